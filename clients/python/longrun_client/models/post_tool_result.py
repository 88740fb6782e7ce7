from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset






T = TypeVar("T", bound="PostToolResult")



@_attrs_define
class PostToolResult:
    """ 
        Attributes:
            content (str): The tool's output, handed to the model: at most 64 KiB.
            tool_call_id (str): The call's id, from the `tool.requested` event or the run's `pending_tool_calls`: 1 to
                256 characters.
            is_error (bool | Unset): The tool failed: the model sees an error result.
     """

    content: str
    tool_call_id: str
    is_error: bool | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        content = self.content

        tool_call_id = self.tool_call_id

        is_error = self.is_error


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "content": content,
            "tool_call_id": tool_call_id,
        })
        if is_error is not UNSET:
            field_dict["is_error"] = is_error

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        content = d.pop("content")

        tool_call_id = d.pop("tool_call_id")

        is_error = d.pop("is_error", UNSET)

        post_tool_result = cls(
            content=content,
            tool_call_id=tool_call_id,
            is_error=is_error,
        )

        return post_tool_result

