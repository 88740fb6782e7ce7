from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.usage_row import UsageRow
  from ..models.usage_totals_view import UsageTotalsView





T = TypeVar("T", bound="UsageReport")



@_attrs_define
class UsageReport:
    """ The workspace's usage over a span of days, grouped, with totals.

        Attributes:
            from_ (str): First day, `YYYY-MM-DD`.
            group_by (str): `day`, `agent`, `model` or `run`: the key each row carries.
            next_cursor (None | str): Pass as `cursor` for the next page of rows; `null` on the last one.
            rows (list[UsageRow]): A page of groups, in key order.
            to (str): Last day, included.
            totals (UsageTotalsView): Usage totals as the API shows them.
     """

    from_: str
    group_by: str
    next_cursor: None | str
    rows: list[UsageRow]
    to: str
    totals: UsageTotalsView
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.usage_row import UsageRow # noqa: PLC0415
        from ..models.usage_totals_view import UsageTotalsView # noqa: PLC0415
        from_ = self.from_

        group_by = self.group_by

        next_cursor: None | str
        next_cursor = self.next_cursor

        rows = []
        for rows_item_data in self.rows:
            rows_item = rows_item_data.to_dict()
            rows.append(rows_item)



        to = self.to

        totals = self.totals.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "from": from_,
            "group_by": group_by,
            "next_cursor": next_cursor,
            "rows": rows,
            "to": to,
            "totals": totals,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.usage_row import UsageRow # noqa: PLC0415
        from ..models.usage_totals_view import UsageTotalsView # noqa: PLC0415
        d = dict(src_dict)
        from_ = d.pop("from")

        group_by = d.pop("group_by")

        def _parse_next_cursor(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        next_cursor = _parse_next_cursor(d.pop("next_cursor"))


        rows = []
        _rows = d.pop("rows")
        for rows_item_data in (_rows):
            rows_item = UsageRow.from_dict(rows_item_data)



            rows.append(rows_item)


        to = d.pop("to")

        totals = UsageTotalsView.from_dict(d.pop("totals"))




        usage_report = cls(
            from_=from_,
            group_by=group_by,
            next_cursor=next_cursor,
            rows=rows,
            to=to,
            totals=totals,
        )


        usage_report.additional_properties = d
        return usage_report

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
