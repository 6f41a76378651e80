// Small building blocks every screen uses.
import { type ComponentChildren, cloneElement, isValidElement } from "preact";
import { useId } from "preact/hooks";

export function ErrorBanner({ message }: { message: string | null | undefined }) {
  if (!message) return null;
  return (
    <div class="banner error" role="alert">
      {message}
    </div>
  );
}

export function Notice({ message }: { message: string | null | undefined }) {
  if (!message) return null;
  return (
    <div class="banner notice" role="status">
      {message}
    </div>
  );
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p class="muted" aria-busy="true">
      {what}…
    </p>
  );
}

export function Page({
  title,
  actions,
  children,
}: {
  title: string;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <section class="page">
      <header class="page-head">
        <h1>{title}</h1>
        {actions ? <div class="page-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

/** A labelled form control: the label wraps the control, so it is its accessible name; the
 * hint stays outside the label (not part of the name) and describes the control instead. */
export function Field({
  label,
  hint,
  children,
}: {
  label: string;
  hint?: string;
  children: ComponentChildren;
}) {
  const hintId = useId();
  const control =
    hint && isValidElement(children)
      ? cloneElement(children, { "aria-describedby": hintId })
      : children;
  return (
    <div class="field">
      <label class="field-control">
        <span class="field-label">{label}</span>
        {control}
      </label>
      {hint ? (
        <span class="field-hint" id={hintId}>
          {hint}
        </span>
      ) : null}
    </div>
  );
}

export function Badge({ children, tone = "" }: { children: ComponentChildren; tone?: string }) {
  return <span class={`badge ${tone}`}>{children}</span>;
}
