from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="AlertView")



@_attrs_define
class AlertView:
    """ A usage alert raised this period.

        Attributes:
            metric (str): `tokens` or `agent_minutes`.
            raised_at (str):
            threshold_percent (int): 80, 100 or 200.
     """

    metric: str
    raised_at: str
    threshold_percent: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        metric = self.metric

        raised_at = self.raised_at

        threshold_percent = self.threshold_percent


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "metric": metric,
            "raised_at": raised_at,
            "threshold_percent": threshold_percent,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        metric = d.pop("metric")

        raised_at = d.pop("raised_at")

        threshold_percent = d.pop("threshold_percent")

        alert_view = cls(
            metric=metric,
            raised_at=raised_at,
            threshold_percent=threshold_percent,
        )


        alert_view.additional_properties = d
        return alert_view

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
