from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.mcp_tool_view import McpToolView





T = TypeVar("T", bound="McpServerView")



@_attrs_define
class McpServerView:
    """ An MCP server as clients see it: header names only, never their values.

        Attributes:
            created_at (str):
            discovered_at (None | str):
            header_names (list[str]): Names of the headers sent with each request (their values are write-only).
            last_error (None | str): Why the last discovery failed, if it did.
            name (str):
            needs_refresh (bool): A run found a tool's definition changed (or gone) since its agent was saved: refresh
                the server and save the agents that use it again.
            tools (list[McpToolView]): The tools of the last successful discovery.
            tools_version (int): Counts the discoveries that changed the tool list.
            updated_at (str):
            url (str):
     """

    created_at: str
    discovered_at: None | str
    header_names: list[str]
    last_error: None | str
    name: str
    needs_refresh: bool
    tools: list[McpToolView]
    tools_version: int
    updated_at: str
    url: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.mcp_tool_view import McpToolView # noqa: PLC0415
        created_at = self.created_at

        discovered_at: None | str
        discovered_at = self.discovered_at

        header_names = self.header_names



        last_error: None | str
        last_error = self.last_error

        name = self.name

        needs_refresh = self.needs_refresh

        tools = []
        for tools_item_data in self.tools:
            tools_item = tools_item_data.to_dict()
            tools.append(tools_item)



        tools_version = self.tools_version

        updated_at = self.updated_at

        url = self.url


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "created_at": created_at,
            "discovered_at": discovered_at,
            "header_names": header_names,
            "last_error": last_error,
            "name": name,
            "needs_refresh": needs_refresh,
            "tools": tools,
            "tools_version": tools_version,
            "updated_at": updated_at,
            "url": url,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.mcp_tool_view import McpToolView # noqa: PLC0415
        d = dict(src_dict)
        created_at = d.pop("created_at")

        def _parse_discovered_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        discovered_at = _parse_discovered_at(d.pop("discovered_at"))


        header_names = cast(list[str], d.pop("header_names"))


        def _parse_last_error(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        last_error = _parse_last_error(d.pop("last_error"))


        name = d.pop("name")

        needs_refresh = d.pop("needs_refresh")

        tools = []
        _tools = d.pop("tools")
        for tools_item_data in (_tools):
            tools_item = McpToolView.from_dict(tools_item_data)



            tools.append(tools_item)


        tools_version = d.pop("tools_version")

        updated_at = d.pop("updated_at")

        url = d.pop("url")

        mcp_server_view = cls(
            created_at=created_at,
            discovered_at=discovered_at,
            header_names=header_names,
            last_error=last_error,
            name=name,
            needs_refresh=needs_refresh,
            tools=tools,
            tools_version=tools_version,
            updated_at=updated_at,
            url=url,
        )


        mcp_server_view.additional_properties = d
        return mcp_server_view

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
