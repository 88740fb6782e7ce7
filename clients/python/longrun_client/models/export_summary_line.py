from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.export_summary import ExportSummary





T = TypeVar("T", bound="ExportSummaryLine")



@_attrs_define
class ExportSummaryLine:
    """ The last line of a JSON Lines export, for a job to check what it read.

        Attributes:
            summary (ExportSummary):
     """

    summary: ExportSummary
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.export_summary import ExportSummary # noqa: PLC0415
        summary = self.summary.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "summary": summary,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.export_summary import ExportSummary # noqa: PLC0415
        d = dict(src_dict)
        summary = ExportSummary.from_dict(d.pop("summary"))




        export_summary_line = cls(
            summary=summary,
        )


        export_summary_line.additional_properties = d
        return export_summary_line

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
