// The admin console: a section menu and the section the route names (#/admin/<section>).
import type { FunctionComponent } from "preact";
import type { Route } from "../../router";
import { href } from "../../router";
import "./admin.css";
import { AccountsSection } from "./AccountsSection";
import { ApiTokensSection } from "./ApiTokensSection";
import { AssignmentsSection } from "./AssignmentsSection";
import { AuditLogSection } from "./AuditLogSection";
import { DepartmentsSection } from "./DepartmentsSection";
import { InboundSection } from "./InboundSection";
import { NotificationSettingsSection } from "./NotificationSettingsSection";
import { ProcessingLogSection } from "./ProcessingLogSection";
import { SlaSection } from "./SlaSection";
import { SmtpSection } from "./SmtpSection";
import { UsersSection } from "./UsersSection";
import { WebhooksSection } from "./WebhooksSection";

interface Section {
  slug: string;
  label: string;
  screen: FunctionComponent;
}

const SECTIONS: Section[] = [
  { slug: "users", label: "Users", screen: UsersSection },
  { slug: "departments", label: "Departments", screen: DepartmentsSection },
  { slug: "accounts", label: "Email accounts", screen: AccountsSection },
  { slug: "assignments", label: "Assignments", screen: AssignmentsSection },
  { slug: "sla", label: "SLA policies", screen: SlaSection },
  { slug: "smtp", label: "SMTP", screen: SmtpSection },
  { slug: "inbound", label: "Inbound", screen: InboundSection },
  { slug: "webhooks", label: "Webhooks", screen: WebhooksSection },
  { slug: "api-tokens", label: "API tokens", screen: ApiTokensSection },
  { slug: "notifications", label: "Notification settings", screen: NotificationSettingsSection },
  { slug: "processing-log", label: "Processing log", screen: ProcessingLogSection },
  { slug: "audit-log", label: "Audit log", screen: AuditLogSection },
];

export function AdminScreen({ route }: { route: Route }) {
  const slug = route.segments[1] ?? "users";
  const section = SECTIONS.find((candidate) => candidate.slug === slug);
  const Screen = section?.screen;
  return (
    <div class="admin">
      <nav class="admin-nav" aria-label="Admin sections">
        <ul>
          {SECTIONS.map((candidate) => (
            <li key={candidate.slug}>
              <a
                href={href(`/admin/${candidate.slug}`)}
                aria-current={candidate.slug === slug ? "page" : undefined}
              >
                {candidate.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <div class="admin-main">
        {Screen ? (
          <Screen key={slug} />
        ) : (
          <p class="banner error" role="alert">
            There is no admin section “{slug}”. Pick one from the menu.
          </p>
        )}
      </div>
    </div>
  );
}
