// A labelled control with a hint below it. The hint stays outside the <label> (the shared
// Field puts it inside, which makes it part of the control's accessible name) and is tied
// to the control by aria-describedby instead.
import type { ComponentChildren } from "preact";

export function HintedField({
  label,
  hint,
  hintId,
  children,
}: {
  label: string;
  hint: string;
  /** Give the control aria-describedby={hintId}. */
  hintId: string;
  children: ComponentChildren;
}) {
  return (
    <div class="field">
      <label class="hinted-label">
        <span class="field-label">{label}</span>
        {children}
      </label>
      <span class="field-hint" id={hintId}>
        {hint}
      </span>
    </div>
  );
}
