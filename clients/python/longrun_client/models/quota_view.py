from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.alert_view import AlertView
  from ..models.limits_view import LimitsView
  from ..models.period_view import PeriodView
  from ..models.remaining_view import RemainingView
  from ..models.used_view import UsedView





T = TypeVar("T", bound="QuotaView")



@_attrs_define
class QuotaView:
    """ The workspace's limits, this period's usage, what is left, and the alerts raised.

        Attributes:
            alerts (list[AlertView]):
            limits (LimitsView): The tier's limits with the workspace's overrides; `null`: unlimited.
            period (PeriodView): The calendar month (UTC) quotas count in.
            remaining (RemainingView): What is left; `null`: unlimited.
            tier (str): `free`, `starter`, `pro` or `enterprise`.
            used (UsedView): This period's usage.
     """

    alerts: list[AlertView]
    limits: LimitsView
    period: PeriodView
    remaining: RemainingView
    tier: str
    used: UsedView
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.alert_view import AlertView # noqa: PLC0415
        from ..models.limits_view import LimitsView # noqa: PLC0415
        from ..models.period_view import PeriodView # noqa: PLC0415
        from ..models.remaining_view import RemainingView # noqa: PLC0415
        from ..models.used_view import UsedView # noqa: PLC0415
        alerts = []
        for alerts_item_data in self.alerts:
            alerts_item = alerts_item_data.to_dict()
            alerts.append(alerts_item)



        limits = self.limits.to_dict()

        period = self.period.to_dict()

        remaining = self.remaining.to_dict()

        tier = self.tier

        used = self.used.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "alerts": alerts,
            "limits": limits,
            "period": period,
            "remaining": remaining,
            "tier": tier,
            "used": used,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.alert_view import AlertView # noqa: PLC0415
        from ..models.limits_view import LimitsView # noqa: PLC0415
        from ..models.period_view import PeriodView # noqa: PLC0415
        from ..models.remaining_view import RemainingView # noqa: PLC0415
        from ..models.used_view import UsedView # noqa: PLC0415
        d = dict(src_dict)
        alerts = []
        _alerts = d.pop("alerts")
        for alerts_item_data in (_alerts):
            alerts_item = AlertView.from_dict(alerts_item_data)



            alerts.append(alerts_item)


        limits = LimitsView.from_dict(d.pop("limits"))




        period = PeriodView.from_dict(d.pop("period"))




        remaining = RemainingView.from_dict(d.pop("remaining"))




        tier = d.pop("tier")

        used = UsedView.from_dict(d.pop("used"))




        quota_view = cls(
            alerts=alerts,
            limits=limits,
            period=period,
            remaining=remaining,
            tier=tier,
            used=used,
        )


        quota_view.additional_properties = d
        return quota_view

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
