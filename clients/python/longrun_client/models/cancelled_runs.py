from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="CancelledRuns")



@_attrs_define
class CancelledRuns:
    """ How many runs a bulk cancellation reached.

        Attributes:
            cancelled (int): Of those, the runs whose cancellation was requested.
            matched (int): Live runs that matched (at most 200 per request).
            more (bool): Whether more runs may match: repeat the request to cancel them.
     """

    cancelled: int
    matched: int
    more: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        cancelled = self.cancelled

        matched = self.matched

        more = self.more


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "cancelled": cancelled,
            "matched": matched,
            "more": more,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cancelled = d.pop("cancelled")

        matched = d.pop("matched")

        more = d.pop("more")

        cancelled_runs = cls(
            cancelled=cancelled,
            matched=matched,
            more=more,
        )


        cancelled_runs.additional_properties = d
        return cancelled_runs

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
