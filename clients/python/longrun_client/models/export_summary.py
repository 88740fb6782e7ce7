from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.usage_totals_view import UsageTotalsView





T = TypeVar("T", bound="ExportSummary")



@_attrs_define
class ExportSummary:
    """ 
        Attributes:
            period (str): `YYYY-MM`.
            rows (int): Rows exported.
            totals (UsageTotalsView): Usage totals as the API shows them.
     """

    period: str
    rows: int
    totals: UsageTotalsView
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.usage_totals_view import UsageTotalsView # noqa: PLC0415
        period = self.period

        rows = self.rows

        totals = self.totals.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "period": period,
            "rows": rows,
            "totals": totals,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.usage_totals_view import UsageTotalsView # noqa: PLC0415
        d = dict(src_dict)
        period = d.pop("period")

        rows = d.pop("rows")

        totals = UsageTotalsView.from_dict(d.pop("totals"))




        export_summary = cls(
            period=period,
            rows=rows,
            totals=totals,
        )


        export_summary.additional_properties = d
        return export_summary

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
