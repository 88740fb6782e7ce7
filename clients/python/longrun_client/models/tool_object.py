from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.tool_object_input_schema_type_0 import ToolObjectInputSchemaType0





T = TypeVar("T", bound="ToolObject")



@_attrs_define
class ToolObject:
    """ A tool declared as an object: a built-in tool (with `requires_approval`), a webhook tool
    (`"type": "webhook"`) that POSTs the model's input to `url`, signed with `secret`, a client
    tool (`"type": "client"`) that the API's client runs (the run waits, `requires_action`,
    for `POST /v1/runs/{id}/tool-results`), or the tools of one of the workspace's MCP servers
    (`"type": "mcp"`, `server`, `tools`).

        Attributes:
            description (None | str | Unset): Webhook and client tools: declared to the model; at most 4 KiB.
            input_schema (None | ToolObjectInputSchemaType0 | Unset): Webhook and client tools: a JSON Schema object for the
                input, at most 16 KiB (default
                `{"type":"object"}`); declared to the model (webhook calls are validated against it
                before they leave).
            name (str | Unset): A built-in tool's name; for a webhook or client tool, 1 to 64 characters of a-z, A-Z,
                0-9, '_' and '-' that no built-in tool has (nor `final_answer`, reserved). Not used by
                MCP items.
            requires_approval (bool | Unset): Each call waits for a human decision (`POST /v1/runs/{id}/approvals`).
            secret (None | str | Unset): Webhook tools: signs each call (Standard Webhooks); 1 to 256 characters. Never
                shown
                again.
            server (None | str | Unset): MCP items: the name of one of the workspace's MCP servers (`/v1/mcp-servers`).
            timeout_s (int | None | Unset): Client tools: seconds a run waits for the result before the model gets an error
                result instead, 1 to 604800; default the operator's (`LONGRUN_CLIENT_TOOL_TIMEOUT_S`,
                an hour).
            tools (list[str] | None | str | Unset):
            type_ (None | str | Unset): `builtin` (the default), `webhook`, `client` or `mcp`.
            url (None | str | Unset): Webhook tools: an http(s) URL of at most 2048 bytes.
     """

    description: None | str | Unset = UNSET
    input_schema: None | ToolObjectInputSchemaType0 | Unset = UNSET
    name: str | Unset = UNSET
    requires_approval: bool | Unset = UNSET
    secret: None | str | Unset = UNSET
    server: None | str | Unset = UNSET
    timeout_s: int | None | Unset = UNSET
    tools: list[str] | None | str | Unset = UNSET
    type_: None | str | Unset = UNSET
    url: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.tool_object_input_schema_type_0 import ToolObjectInputSchemaType0 # noqa: PLC0415
        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        input_schema: dict[str, Any] | None | Unset
        if isinstance(self.input_schema, Unset):
            input_schema = UNSET
        elif isinstance(self.input_schema, ToolObjectInputSchemaType0):
            input_schema = self.input_schema.to_dict()
        else:
            input_schema = self.input_schema

        name = self.name

        requires_approval = self.requires_approval

        secret: None | str | Unset
        if isinstance(self.secret, Unset):
            secret = UNSET
        else:
            secret = self.secret

        server: None | str | Unset
        if isinstance(self.server, Unset):
            server = UNSET
        else:
            server = self.server

        timeout_s: int | None | Unset
        if isinstance(self.timeout_s, Unset):
            timeout_s = UNSET
        else:
            timeout_s = self.timeout_s

        tools: list[str] | None | str | Unset
        if isinstance(self.tools, Unset):
            tools = UNSET
        elif isinstance(self.tools, list):
            tools = self.tools


        else:
            tools = self.tools

        type_: None | str | Unset
        if isinstance(self.type_, Unset):
            type_ = UNSET
        else:
            type_ = self.type_

        url: None | str | Unset
        if isinstance(self.url, Unset):
            url = UNSET
        else:
            url = self.url


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if description is not UNSET:
            field_dict["description"] = description
        if input_schema is not UNSET:
            field_dict["input_schema"] = input_schema
        if name is not UNSET:
            field_dict["name"] = name
        if requires_approval is not UNSET:
            field_dict["requires_approval"] = requires_approval
        if secret is not UNSET:
            field_dict["secret"] = secret
        if server is not UNSET:
            field_dict["server"] = server
        if timeout_s is not UNSET:
            field_dict["timeout_s"] = timeout_s
        if tools is not UNSET:
            field_dict["tools"] = tools
        if type_ is not UNSET:
            field_dict["type"] = type_
        if url is not UNSET:
            field_dict["url"] = url

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.tool_object_input_schema_type_0 import ToolObjectInputSchemaType0 # noqa: PLC0415
        d = dict(src_dict)
        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))


        def _parse_input_schema(data: object) -> None | ToolObjectInputSchemaType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                input_schema_type_0 = ToolObjectInputSchemaType0.from_dict(data)



                return input_schema_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ToolObjectInputSchemaType0 | Unset, data)

        input_schema = _parse_input_schema(d.pop("input_schema", UNSET))


        name = d.pop("name", UNSET)

        requires_approval = d.pop("requires_approval", UNSET)

        def _parse_secret(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        secret = _parse_secret(d.pop("secret", UNSET))


        def _parse_server(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        server = _parse_server(d.pop("server", UNSET))


        def _parse_timeout_s(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        timeout_s = _parse_timeout_s(d.pop("timeout_s", UNSET))


        def _parse_tools(data: object) -> list[str] | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                componentsschemas_mcp_selection_schema_type_1 = cast(list[str], data)

                return componentsschemas_mcp_selection_schema_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | str | Unset, data)

        tools = _parse_tools(d.pop("tools", UNSET))


        def _parse_type_(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        type_ = _parse_type_(d.pop("type", UNSET))


        def _parse_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        url = _parse_url(d.pop("url", UNSET))


        tool_object = cls(
            description=description,
            input_schema=input_schema,
            name=name,
            requires_approval=requires_approval,
            secret=secret,
            server=server,
            timeout_s=timeout_s,
            tools=tools,
            type_=type_,
            url=url,
        )

        return tool_object

