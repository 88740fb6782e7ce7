from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.tool_type import ToolType
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.mcp_tool_use_view import McpToolUseView
  from ..models.tool_view_input_schema import ToolViewInputSchema





T = TypeVar("T", bound="ToolView")



@_attrs_define
class ToolView:
    """ A tool of an agent as clients see it: webhook secrets are write-only.

        Attributes:
            name (str):
            requires_approval (bool):
            type_ (ToolType):
            description (str | Unset): Webhook and client tools only.
            has_secret (bool | Unset): Webhook tools only: whether calls are signed.
            input_schema (ToolViewInputSchema | Unset): Webhook and client tools only: the input's JSON schema.
            mcp_tools (list[McpToolUseView] | Unset): MCP items only: the tools the model gets, as discovered when the agent
                was saved.
            server (str | Unset): MCP items only: the server (also in `name`).
            timeout_s (int | Unset): Client tools only, when set: seconds a run waits for the result.
            tools (list[str] | str | Unset): Which tools of an MCP server an agent uses: `"*"` (all) or their names on the
                server.
            url (str | Unset): Webhook tools only.
     """

    name: str
    requires_approval: bool
    type_: ToolType
    description: str | Unset = UNSET
    has_secret: bool | Unset = UNSET
    input_schema: ToolViewInputSchema | Unset = UNSET
    mcp_tools: list[McpToolUseView] | Unset = UNSET
    server: str | Unset = UNSET
    timeout_s: int | Unset = UNSET
    tools: list[str] | str | Unset = UNSET
    url: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.mcp_tool_use_view import McpToolUseView # noqa: PLC0415
        from ..models.tool_view_input_schema import ToolViewInputSchema # noqa: PLC0415
        name = self.name

        requires_approval = self.requires_approval

        type_ = self.type_.value

        description = self.description

        has_secret = self.has_secret

        input_schema: dict[str, Any] | Unset = UNSET
        if not isinstance(self.input_schema, Unset):
            input_schema = self.input_schema.to_dict()

        mcp_tools: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.mcp_tools, Unset):
            mcp_tools = []
            for mcp_tools_item_data in self.mcp_tools:
                mcp_tools_item = mcp_tools_item_data.to_dict()
                mcp_tools.append(mcp_tools_item)



        server = self.server

        timeout_s = self.timeout_s

        tools: list[str] | str | Unset
        if isinstance(self.tools, Unset):
            tools = UNSET
        elif isinstance(self.tools, list):
            tools = self.tools


        else:
            tools = self.tools

        url = self.url


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "name": name,
            "requires_approval": requires_approval,
            "type": type_,
        })
        if description is not UNSET:
            field_dict["description"] = description
        if has_secret is not UNSET:
            field_dict["has_secret"] = has_secret
        if input_schema is not UNSET:
            field_dict["input_schema"] = input_schema
        if mcp_tools is not UNSET:
            field_dict["mcp_tools"] = mcp_tools
        if server is not UNSET:
            field_dict["server"] = server
        if timeout_s is not UNSET:
            field_dict["timeout_s"] = timeout_s
        if tools is not UNSET:
            field_dict["tools"] = tools
        if url is not UNSET:
            field_dict["url"] = url

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.mcp_tool_use_view import McpToolUseView # noqa: PLC0415
        from ..models.tool_view_input_schema import ToolViewInputSchema # noqa: PLC0415
        d = dict(src_dict)
        name = d.pop("name")

        requires_approval = d.pop("requires_approval")

        type_ = ToolType(d.pop("type"))




        description = d.pop("description", UNSET)

        has_secret = d.pop("has_secret", UNSET)

        _input_schema = d.pop("input_schema", UNSET)
        input_schema: ToolViewInputSchema | Unset
        if isinstance(_input_schema,  Unset):
            input_schema = UNSET
        else:
            input_schema = ToolViewInputSchema.from_dict(_input_schema)




        _mcp_tools = d.pop("mcp_tools", UNSET)
        mcp_tools: list[McpToolUseView] | Unset = UNSET
        if _mcp_tools is not UNSET:
            mcp_tools = []
            for mcp_tools_item_data in _mcp_tools:
                mcp_tools_item = McpToolUseView.from_dict(mcp_tools_item_data)



                mcp_tools.append(mcp_tools_item)


        server = d.pop("server", UNSET)

        timeout_s = d.pop("timeout_s", UNSET)

        def _parse_tools(data: object) -> list[str] | str | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                componentsschemas_mcp_selection_schema_type_1 = cast(list[str], data)

                return componentsschemas_mcp_selection_schema_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | str | Unset, data)

        tools = _parse_tools(d.pop("tools", UNSET))


        url = d.pop("url", UNSET)

        tool_view = cls(
            name=name,
            requires_approval=requires_approval,
            type_=type_,
            description=description,
            has_secret=has_secret,
            input_schema=input_schema,
            mcp_tools=mcp_tools,
            server=server,
            timeout_s=timeout_s,
            tools=tools,
            url=url,
        )


        tool_view.additional_properties = d
        return tool_view

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
