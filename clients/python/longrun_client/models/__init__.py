""" Contains all the data models used in inputs/outputs """

from .accepted import Accepted
from .agent_limits import AgentLimits
from .agent_list import AgentList
from .agent_view import AgentView
from .agent_view_output_schema_type_0 import AgentViewOutputSchemaType0
from .alert_view import AlertView
from .api_key_list import ApiKeyList
from .api_key_view import ApiKeyView
from .approval_outcome import ApprovalOutcome
from .audit_entry_view import AuditEntryView
from .audit_entry_view_data_type_0 import AuditEntryViewDataType0
from .audit_page import AuditPage
from .batch_item import BatchItem
from .batch_result import BatchResult
from .cancel_runs import CancelRuns
from .cancel_runs_metadata_type_0 import CancelRunsMetadataType0
from .cancelled_runs import CancelledRuns
from .check_report import CheckReport
from .check_status import CheckStatus
from .create_agent import CreateAgent
from .create_agent_output_schema_type_0 import CreateAgentOutputSchemaType0
from .create_key import CreateKey
from .create_mcp_server import CreateMcpServer
from .create_mcp_server_headers_type_0 import CreateMcpServerHeadersType0
from .create_run import CreateRun
from .create_run_metadata_type_0 import CreateRunMetadataType0
from .create_run_output_schema_type_0 import CreateRunOutputSchemaType0
from .create_runs import CreateRuns
from .created_api_key import CreatedApiKey
from .error_body import ErrorBody
from .error_detail import ErrorDetail
from .export_cloud_event import ExportCloudEvent
from .export_record import ExportRecord
from .export_summary import ExportSummary
from .export_summary_line import ExportSummaryLine
from .health import Health
from .limits_view import LimitsView
from .logged_in import LoggedIn
from .login import Login
from .mcp_server_list import McpServerList
from .mcp_server_view import McpServerView
from .mcp_tool_use_view import McpToolUseView
from .mcp_tool_view import McpToolView
from .mcp_tool_view_input_schema import McpToolViewInputSchema
from .openapi_response_200 import OpenapiResponse200
from .pending_call_view import PendingCallView
from .pending_call_view_input import PendingCallViewInput
from .period_view import PeriodView
from .post_approval import PostApproval
from .post_message import PostMessage
from .post_tool_result import PostToolResult
from .quota_view import QuotaView
from .readiness_report import ReadinessReport
from .readiness_report_checks import ReadinessReportChecks
from .ready_status import ReadyStatus
from .register import Register
from .registered import Registered
from .remaining_view import RemainingView
from .run_error import RunError
from .run_page import RunPage
from .run_status_name import RunStatusName
from .run_stream_event import RunStreamEvent
from .run_usage_view import RunUsageView
from .run_view import RunView
from .run_view_metadata_type_0 import RunViewMetadataType0
from .run_view_result_json_type_0 import RunViewResultJsonType0
from .tool_object import ToolObject
from .tool_object_input_schema_type_0 import ToolObjectInputSchemaType0
from .tool_type import ToolType
from .tool_view import ToolView
from .tool_view_input_schema import ToolViewInputSchema
from .update_workspace import UpdateWorkspace
from .usage_figures import UsageFigures
from .usage_report import UsageReport
from .usage_row import UsageRow
from .usage_totals_view import UsageTotalsView
from .used_view import UsedView
from .workspace_settings import WorkspaceSettings
from .workspace_view import WorkspaceView

__all__ = (
    "Accepted",
    "AgentLimits",
    "AgentList",
    "AgentView",
    "AgentViewOutputSchemaType0",
    "AlertView",
    "ApiKeyList",
    "ApiKeyView",
    "ApprovalOutcome",
    "AuditEntryView",
    "AuditEntryViewDataType0",
    "AuditPage",
    "BatchItem",
    "BatchResult",
    "CancelledRuns",
    "CancelRuns",
    "CancelRunsMetadataType0",
    "CheckReport",
    "CheckStatus",
    "CreateAgent",
    "CreateAgentOutputSchemaType0",
    "CreatedApiKey",
    "CreateKey",
    "CreateMcpServer",
    "CreateMcpServerHeadersType0",
    "CreateRun",
    "CreateRunMetadataType0",
    "CreateRunOutputSchemaType0",
    "CreateRuns",
    "ErrorBody",
    "ErrorDetail",
    "ExportCloudEvent",
    "ExportRecord",
    "ExportSummary",
    "ExportSummaryLine",
    "Health",
    "LimitsView",
    "LoggedIn",
    "Login",
    "McpServerList",
    "McpServerView",
    "McpToolUseView",
    "McpToolView",
    "McpToolViewInputSchema",
    "OpenapiResponse200",
    "PendingCallView",
    "PendingCallViewInput",
    "PeriodView",
    "PostApproval",
    "PostMessage",
    "PostToolResult",
    "QuotaView",
    "ReadinessReport",
    "ReadinessReportChecks",
    "ReadyStatus",
    "Register",
    "Registered",
    "RemainingView",
    "RunError",
    "RunPage",
    "RunStatusName",
    "RunStreamEvent",
    "RunUsageView",
    "RunView",
    "RunViewMetadataType0",
    "RunViewResultJsonType0",
    "ToolObject",
    "ToolObjectInputSchemaType0",
    "ToolType",
    "ToolView",
    "ToolViewInputSchema",
    "UpdateWorkspace",
    "UsageFigures",
    "UsageReport",
    "UsageRow",
    "UsageTotalsView",
    "UsedView",
    "WorkspaceSettings",
    "WorkspaceView",
)
