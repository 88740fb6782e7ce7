from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.pending_call_view_input import PendingCallViewInput





T = TypeVar("T", bound="PendingCallView")



@_attrs_define
class PendingCallView:
    """ A tool call waiting for a decision, or for a client's result.

        Attributes:
            input_ (PendingCallViewInput): What the model asked the tool to do.
            requested_at (str):
            tool (str): The tool's name.
            tool_call_id (str):
     """

    input_: PendingCallViewInput
    requested_at: str
    tool: str
    tool_call_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.pending_call_view_input import PendingCallViewInput # noqa: PLC0415
        input_ = self.input_.to_dict()

        requested_at = self.requested_at

        tool = self.tool

        tool_call_id = self.tool_call_id


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "input": input_,
            "requested_at": requested_at,
            "tool": tool,
            "tool_call_id": tool_call_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.pending_call_view_input import PendingCallViewInput # noqa: PLC0415
        d = dict(src_dict)
        input_ = PendingCallViewInput.from_dict(d.pop("input"))




        requested_at = d.pop("requested_at")

        tool = d.pop("tool")

        tool_call_id = d.pop("tool_call_id")

        pending_call_view = cls(
            input_=input_,
            requested_at=requested_at,
            tool=tool,
            tool_call_id=tool_call_id,
        )


        pending_call_view.additional_properties = d
        return pending_call_view

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
