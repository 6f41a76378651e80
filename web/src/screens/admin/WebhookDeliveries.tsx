// A subscription's deliveries, newest first, with redeliver for failed ones.
import { api } from "../../api/client";
import { Badge } from "../../ui/components";
import { formatShort } from "../../ui/format";
import { useLoad } from "../../ui/useLoad";
import { ActionStatus, useAction, usePager, type Schema } from "./kit";
import { PagedTable } from "./listViews";

type Delivery = Schema<"WebhookDeliveryView">;

const TONES: Record<string, string> = { delivered: "ok", failed: "danger", pending: "warn" };

export function WebhookDeliveries({ subscriptionId, generation }: { subscriptionId: string; generation: number }) {
  const pager = usePager();
  const action = useAction();
  const list = useLoad(
    () =>
      api.GET("/admin/webhooks/{subscription_id}/deliveries", {
        params: { path: { subscription_id: subscriptionId }, query: { limit: 25, cursor: pager.cursor ?? null } },
      }),
    [subscriptionId, pager.cursor, generation],
  );

  function redeliver(deliveryId: string) {
    void action.run(
      () =>
        api.POST("/admin/webhooks/{subscription_id}/deliveries/{delivery_id}/redeliver", {
          params: { path: { subscription_id: subscriptionId, delivery_id: deliveryId } },
        }),
      () => list.reload(),
      "Delivery queued again.",
    );
  }

  return (
    <div>
      <div class="admin-row-actions">
        <button type="button" onClick={list.reload} disabled={list.loading}>
          Refresh deliveries
        </button>
      </div>
      <ActionStatus action={action} />
      <PagedTable
        list={list}
        pager={pager}
        loading="Loading deliveries"
        caption="Deliveries"
        head={["Created", "Event", "Status", "Attempts", "Response", "Last error", ""]}
        empty="No deliveries yet."
        row={(row: Delivery) => (
          <tr key={row.id}>
            <td>{formatShort(row.created_at)}</td>
            <td>{row.event_type}</td>
            <td>
              <Badge tone={TONES[row.status] ?? ""}>{row.status}</Badge>
            </td>
            <td>{row.attempts}</td>
            <td>{row.response_status ?? "—"}</td>
            <td class="admin-wrap">{row.last_error || "—"}</td>
            <td>
              {row.status === "failed" ? (
                <button type="button" disabled={action.busy} onClick={() => redeliver(row.id)}>
                  Redeliver
                </button>
              ) : null}
            </td>
          </tr>
        )}
      />
    </div>
  );
}
