from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.ready_status import ReadyStatus
from typing import cast

if TYPE_CHECKING:
  from ..models.readiness_report_checks import ReadinessReportChecks





T = TypeVar("T", bound="ReadinessReport")



@_attrs_define
class ReadinessReport:
    """ What `/readyz` answers.

        Attributes:
            checks (ReadinessReportChecks): Each dependency by name (`database`, `temporal`, and `redis` when limits are
                shared
                through it).
            status (ReadyStatus):
     """

    checks: ReadinessReportChecks
    status: ReadyStatus
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.readiness_report_checks import ReadinessReportChecks # noqa: PLC0415
        checks = self.checks.to_dict()

        status = self.status.value


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "checks": checks,
            "status": status,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.readiness_report_checks import ReadinessReportChecks # noqa: PLC0415
        d = dict(src_dict)
        checks = ReadinessReportChecks.from_dict(d.pop("checks"))




        status = ReadyStatus(d.pop("status"))




        readiness_report = cls(
            checks=checks,
            status=status,
        )


        readiness_report.additional_properties = d
        return readiness_report

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
