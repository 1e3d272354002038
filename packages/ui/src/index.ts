export { managementUi, contentSecurityPolicy, renderIndexHtml } from './management-ui.js';
export type { ManagementUiOptions } from './management-ui.js';
