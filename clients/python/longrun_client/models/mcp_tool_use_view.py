from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="McpToolUseView")



@_attrs_define
class McpToolUseView:
    """ One MCP tool of an agent: the model's name for it and the server's.

        Attributes:
            description (str):
            hash_ (str): SHA-256 of the definition the agent was saved with.
            name (str): What the model calls it (`<server>__<tool>`).
            tool (str): The tool's name on the server.
     """

    description: str
    hash_: str
    name: str
    tool: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        description = self.description

        hash_ = self.hash_

        name = self.name

        tool = self.tool


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "description": description,
            "hash": hash_,
            "name": name,
            "tool": tool,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        description = d.pop("description")

        hash_ = d.pop("hash")

        name = d.pop("name")

        tool = d.pop("tool")

        mcp_tool_use_view = cls(
            description=description,
            hash_=hash_,
            name=name,
            tool=tool,
        )


        mcp_tool_use_view.additional_properties = d
        return mcp_tool_use_view

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
