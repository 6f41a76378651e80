// The "?" overlay: a modal dialog listing the inbox's shortcuts.
import { useEffect, useRef } from "preact/hooks";
import { SHORTCUTS } from "./useInboxShortcuts";

export function ShortcutHelp({ onClose }: { onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
  }, []);
  return (
    <dialog
      ref={dialog}
      class="shortcut-help"
      aria-labelledby="shortcut-help-title"
      onClose={onClose}
      onCancel={onClose}
    >
      <h2 id="shortcut-help-title">Keyboard shortcuts</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Does</th>
          </tr>
        </thead>
        <tbody>
          {SHORTCUTS.map((shortcut) => (
            <tr key={shortcut.what}>
              <td>
                {shortcut.keys.map((key, index) => (
                  <span key={key}>
                    {index > 0 ? " or " : null}
                    <kbd>{key}</kbd>
                  </span>
                ))}
              </td>
              <td>{shortcut.what}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted">Assigning and resolving need the right to send from the ticket's mailbox.</p>
      <form method="dialog">
        <button type="submit" class="primary" autofocus>
          Close
        </button>
      </form>
    </dialog>
  );
}
