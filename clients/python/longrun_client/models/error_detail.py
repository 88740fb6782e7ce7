from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset






T = TypeVar("T", bound="ErrorDetail")



@_attrs_define
class ErrorDetail:
    """ What went wrong: a stable snake_case `code`, a message for people, and for admission
    refusals the figures behind them.

        Attributes:
            code (str): Stable: `unauthorized`, `forbidden`, `invalid_json`, `invalid_request`,
                `payload_too_large`, `unsupported_media_type`, `rate_limited`, `concurrency_limit`,
                `quota_exhausted`, `run_not_found`, `agent_not_found`, `run_finished`,
                `scheduler_unavailable`, `store_unavailable`, … and `internal`. Example: invalid_request.
            message (str): For people; an input error names the field at fault. Example: budget.max_steps: must be between 1
                and 200.
            active (int | Unset): `concurrency_limit`: the workspace's active runs.
            limit (int | Unset): `quota_exhausted`, `concurrency_limit`, `too_many_streams`: the limit.
            metric (str | Unset): `quota_exhausted`: which monthly quota (`tokens` or `agent_minutes`).
            used (int | Unset): `quota_exhausted`: what this period used.
     """

    code: str
    message: str
    active: int | Unset = UNSET
    limit: int | Unset = UNSET
    metric: str | Unset = UNSET
    used: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        code = self.code

        message = self.message

        active = self.active

        limit = self.limit

        metric = self.metric

        used = self.used


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "code": code,
            "message": message,
        })
        if active is not UNSET:
            field_dict["active"] = active
        if limit is not UNSET:
            field_dict["limit"] = limit
        if metric is not UNSET:
            field_dict["metric"] = metric
        if used is not UNSET:
            field_dict["used"] = used

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        code = d.pop("code")

        message = d.pop("message")

        active = d.pop("active", UNSET)

        limit = d.pop("limit", UNSET)

        metric = d.pop("metric", UNSET)

        used = d.pop("used", UNSET)

        error_detail = cls(
            code=code,
            message=message,
            active=active,
            limit=limit,
            metric=metric,
            used=used,
        )


        error_detail.additional_properties = d
        return error_detail

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
