from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="LimitsView")



@_attrs_define
class LimitsView:
    """ The tier's limits with the workspace's overrides; `null`: unlimited.

        Attributes:
            agent_minutes_per_month (int | None):
            agents (int | None): Agents the workspace may define.
            concurrent_runs (int | None):
            event_streams (int | None): Event streams open at once (per API process).
            hard_cap_factor (int): Multiple of the monthly quotas at which running runs pause.
            max_run_s (int): Longest run, in seconds.
            requests_per_minute (int | None):
            tokens_per_month (int | None):
     """

    agent_minutes_per_month: int | None
    agents: int | None
    concurrent_runs: int | None
    event_streams: int | None
    hard_cap_factor: int
    max_run_s: int
    requests_per_minute: int | None
    tokens_per_month: int | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        agent_minutes_per_month: int | None
        agent_minutes_per_month = self.agent_minutes_per_month

        agents: int | None
        agents = self.agents

        concurrent_runs: int | None
        concurrent_runs = self.concurrent_runs

        event_streams: int | None
        event_streams = self.event_streams

        hard_cap_factor = self.hard_cap_factor

        max_run_s = self.max_run_s

        requests_per_minute: int | None
        requests_per_minute = self.requests_per_minute

        tokens_per_month: int | None
        tokens_per_month = self.tokens_per_month


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "agent_minutes_per_month": agent_minutes_per_month,
            "agents": agents,
            "concurrent_runs": concurrent_runs,
            "event_streams": event_streams,
            "hard_cap_factor": hard_cap_factor,
            "max_run_s": max_run_s,
            "requests_per_minute": requests_per_minute,
            "tokens_per_month": tokens_per_month,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_agent_minutes_per_month(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        agent_minutes_per_month = _parse_agent_minutes_per_month(d.pop("agent_minutes_per_month"))


        def _parse_agents(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        agents = _parse_agents(d.pop("agents"))


        def _parse_concurrent_runs(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        concurrent_runs = _parse_concurrent_runs(d.pop("concurrent_runs"))


        def _parse_event_streams(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        event_streams = _parse_event_streams(d.pop("event_streams"))


        hard_cap_factor = d.pop("hard_cap_factor")

        max_run_s = d.pop("max_run_s")

        def _parse_requests_per_minute(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        requests_per_minute = _parse_requests_per_minute(d.pop("requests_per_minute"))


        def _parse_tokens_per_month(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        tokens_per_month = _parse_tokens_per_month(d.pop("tokens_per_month"))


        limits_view = cls(
            agent_minutes_per_month=agent_minutes_per_month,
            agents=agents,
            concurrent_runs=concurrent_runs,
            event_streams=event_streams,
            hard_cap_factor=hard_cap_factor,
            max_run_s=max_run_s,
            requests_per_minute=requests_per_minute,
            tokens_per_month=tokens_per_month,
        )


        limits_view.additional_properties = d
        return limits_view

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
