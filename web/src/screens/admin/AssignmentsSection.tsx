// Assignments: give a user rights on a mailbox, and see or change one mailbox's assignments.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Page } from "../../ui/components";
import { AssignmentForm, newAssignment, type AssignmentValues } from "./AssignmentForm";
import { AssignmentsPanel } from "./AssignmentsPanel";
import { AccountSelect } from "./IdSelect";
import { ActionStatus, DirectoryError, useAction, useDirectory } from "./kit";

export function AssignmentsSection() {
  const directory = useDirectory();
  const action = useAction();
  const [accountId, setAccountId] = useState("");
  // Bumped after an assignment is added so the account's table loads again.
  const [generation, setGeneration] = useState(0);

  function assign(values: AssignmentValues) {
    void action.run(
      () => api.POST("/admin/assignments", { body: values }),
      () => {
        setAccountId(values.account_id);
        setGeneration((n) => n + 1);
      },
      `Assigned ${directory.userName(values.user_id)} to ${directory.accountName(values.account_id)}.`,
    );
  }

  return (
    <Page title="Assignments">
      <DirectoryError directory={directory} />
      <ActionStatus action={action} />
      <AssignmentForm
        title="Assign a user to an account"
        submit="Assign"
        initial={newAssignment("", "")}
        pick="both"
        directory={directory}
        busy={action.busy}
        onSubmit={assign}
      />
      <h2>Assignments of an account</h2>
      <AccountSelect
        label="Account to show"
        none="Choose an account"
        options={directory.accounts}
        value={accountId}
        onChange={setAccountId}
      />
      {accountId ? (
        <AssignmentsPanel key={`${accountId}-${generation}`} of="account" id={accountId} directory={directory} />
      ) : (
        <p class="muted admin-empty">Choose an account to see who is assigned to it.</p>
      )}
    </Page>
  );
}
