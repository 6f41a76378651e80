// Members cannot read signatures through the API, so this says what the server does with
// them (postdesk_outbound.render / compose) rather than showing a guess.
export function SignatureNote() {
  return (
    <p class="field-hint signature-note">
      Your email signature is added when the mail is sent (the mailbox's signature if you
      have none), unless your text already ends with it.
    </p>
  );
}
