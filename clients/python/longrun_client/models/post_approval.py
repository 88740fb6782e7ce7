from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="PostApproval")



@_attrs_define
class PostApproval:
    """ 
        Attributes:
            approve (bool):
            tool_call_id (str): The call's id, from the `approval.requested` event: 1 to 256 characters.
            reason (None | str | Unset): Told to the model with a denial; at most 4 KiB.
     """

    approve: bool
    tool_call_id: str
    reason: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        approve = self.approve

        tool_call_id = self.tool_call_id

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "approve": approve,
            "tool_call_id": tool_call_id,
        })
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        approve = d.pop("approve")

        tool_call_id = d.pop("tool_call_id")

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))


        post_approval = cls(
            approve=approve,
            tool_call_id=tool_call_id,
            reason=reason,
        )

        return post_approval

