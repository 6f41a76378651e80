// Inbound: the domains and addresses mail is received on, and IMAP mailboxes it is fetched from.
import { Page } from "../../ui/components";
import { ImapMailboxes } from "./ImapMailboxes";
import { InboundAddresses } from "./InboundAddresses";
import { InboundDomains } from "./InboundDomains";
import { DirectoryError, useDirectory } from "./kit";

export function InboundSection() {
  const directory = useDirectory();
  return (
    <Page title="Inbound">
      <DirectoryError directory={directory} />
      <InboundDomains directory={directory} />
      <InboundAddresses directory={directory} />
      <ImapMailboxes directory={directory} />
    </Page>
  );
}
