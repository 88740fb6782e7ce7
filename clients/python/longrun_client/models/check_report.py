from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.check_status import CheckStatus






T = TypeVar("T", bound="CheckReport")



@_attrs_define
class CheckReport:
    """ One dependency's answer. Why it failed is logged, not shown: the route is unauthenticated.

        Attributes:
            latency_ms (int): How long the check took.
            required (bool): Whether the process cannot serve without it.
            status (CheckStatus):
     """

    latency_ms: int
    required: bool
    status: CheckStatus
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        latency_ms = self.latency_ms

        required = self.required

        status = self.status.value


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "latency_ms": latency_ms,
            "required": required,
            "status": status,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        latency_ms = d.pop("latency_ms")

        required = d.pop("required")

        status = CheckStatus(d.pop("status"))




        check_report = cls(
            latency_ms=latency_ms,
            required=required,
            status=status,
        )


        check_report.additional_properties = d
        return check_report

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
