/** Names for the API's shapes, from the generated OpenAPI types (`npm run api-types`). */
import type { components } from "./schema";

type Schemas = components["schemas"];

export type UserPublic = Schemas["UserPublic"];
export type Role = UserPublic["role"];
export type TokenResponse = Schemas["TokenResponse"];
export type WorkflowPublic = Schemas["WorkflowPublic"];
export type WorkflowVersion = Schemas["WorkflowVersionPublic"];
export type RunPublic = Schemas["RunPublic"];
export type RunStatus = RunPublic["status"];
export type TaskPublic = Schemas["TaskPublic"];
export type NodeStatus = TaskPublic["status"];
export type NodeType = Schemas["NodeTypePublic"];
export type CredentialPublic = Schemas["CredentialPublic"];
export type CredentialTestResult = Schemas["CredentialTestResult"];
export type ApiKeyPublic = Schemas["ApiKeyPublic"];
export type ApiKeyCreated = Schemas["ApiKeyCreated"];
export type AuditLogPublic = Schemas["AuditLogPublic"];
export type ValidateResponse = Schemas["ValidateResponse"];
export type ValidationIssue = Schemas["ValidationIssue"];
export type GeneratedWorkflow = Schemas["GeneratedWorkflow"];
export type ScheduleInfo = Schemas["ScheduleInfo"];
export type InstanceInfo = Schemas["InstanceInfo"];

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}
