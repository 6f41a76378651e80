// The department filter's choices: only admins may list departments (GET /admin/departments);
// members have the "My department" view instead.
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api/client";
import type { DepartmentChoice } from "./InboxFilters";

export function useDepartmentChoices(isAdmin: boolean): DepartmentChoice[] {
  const [departments, setDepartments] = useState<DepartmentChoice[]>([]);
  useEffect(() => {
    if (!isAdmin) return;
    let current = true;
    void api.GET("/admin/departments").then(({ data }) => {
      if (current && data) {
        setDepartments(data.items.map((department) => ({ id: department.id, name: department.name })));
      }
    });
    return () => {
      current = false;
    };
  }, [isAdmin]);
  return departments;
}
