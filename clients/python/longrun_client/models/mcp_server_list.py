from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.mcp_server_view import McpServerView





T = TypeVar("T", bound="McpServerList")



@_attrs_define
class McpServerList:
    """ The workspace's MCP servers, by name.

        Attributes:
            mcp_servers (list[McpServerView]):
     """

    mcp_servers: list[McpServerView]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.mcp_server_view import McpServerView # noqa: PLC0415
        mcp_servers = []
        for mcp_servers_item_data in self.mcp_servers:
            mcp_servers_item = mcp_servers_item_data.to_dict()
            mcp_servers.append(mcp_servers_item)




        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "mcp_servers": mcp_servers,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.mcp_server_view import McpServerView # noqa: PLC0415
        d = dict(src_dict)
        mcp_servers = []
        _mcp_servers = d.pop("mcp_servers")
        for mcp_servers_item_data in (_mcp_servers):
            mcp_servers_item = McpServerView.from_dict(mcp_servers_item_data)



            mcp_servers.append(mcp_servers_item)


        mcp_server_list = cls(
            mcp_servers=mcp_servers,
        )


        mcp_server_list.additional_properties = d
        return mcp_server_list

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
