from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.agent_limits import AgentLimits
  from ..models.agent_view_output_schema_type_0 import AgentViewOutputSchemaType0
  from ..models.tool_view import ToolView





T = TypeVar("T", bound="AgentView")



@_attrs_define
class AgentView:
    """ An agent as clients see it.

        Attributes:
            await_input (bool):
            created_at (str):
            limits (AgentLimits): Limits of a run: an agent's defaults, or a run's tighter budget.
            max_output_tokens (int | None):
            max_repeated_tool_calls (int | None): `null`: 3.
            model (str):
            name (str):
            output_schema (AgentViewOutputSchemaType0 | None): Structured output's schema, when set.
            provider_outage_tolerance_s (int | None): `null`: the operator's default
                (`LONGRUN_PROVIDER_OUTAGE_TOLERANCE_S`).
            system_prompt (str):
            tools (list[ToolView]):
            updated_at (str):
     """

    await_input: bool
    created_at: str
    limits: AgentLimits
    max_output_tokens: int | None
    max_repeated_tool_calls: int | None
    model: str
    name: str
    output_schema: AgentViewOutputSchemaType0 | None
    provider_outage_tolerance_s: int | None
    system_prompt: str
    tools: list[ToolView]
    updated_at: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.agent_limits import AgentLimits # noqa: PLC0415
        from ..models.agent_view_output_schema_type_0 import AgentViewOutputSchemaType0 # noqa: PLC0415
        from ..models.tool_view import ToolView # noqa: PLC0415
        await_input = self.await_input

        created_at = self.created_at

        limits = self.limits.to_dict()

        max_output_tokens: int | None
        max_output_tokens = self.max_output_tokens

        max_repeated_tool_calls: int | None
        max_repeated_tool_calls = self.max_repeated_tool_calls

        model = self.model

        name = self.name

        output_schema: dict[str, Any] | None
        if isinstance(self.output_schema, AgentViewOutputSchemaType0):
            output_schema = self.output_schema.to_dict()
        else:
            output_schema = self.output_schema

        provider_outage_tolerance_s: int | None
        provider_outage_tolerance_s = self.provider_outage_tolerance_s

        system_prompt = self.system_prompt

        tools = []
        for tools_item_data in self.tools:
            tools_item = tools_item_data.to_dict()
            tools.append(tools_item)



        updated_at = self.updated_at


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "await_input": await_input,
            "created_at": created_at,
            "limits": limits,
            "max_output_tokens": max_output_tokens,
            "max_repeated_tool_calls": max_repeated_tool_calls,
            "model": model,
            "name": name,
            "output_schema": output_schema,
            "provider_outage_tolerance_s": provider_outage_tolerance_s,
            "system_prompt": system_prompt,
            "tools": tools,
            "updated_at": updated_at,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.agent_limits import AgentLimits # noqa: PLC0415
        from ..models.agent_view_output_schema_type_0 import AgentViewOutputSchemaType0 # noqa: PLC0415
        from ..models.tool_view import ToolView # noqa: PLC0415
        d = dict(src_dict)
        await_input = d.pop("await_input")

        created_at = d.pop("created_at")

        limits = AgentLimits.from_dict(d.pop("limits"))




        def _parse_max_output_tokens(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        max_output_tokens = _parse_max_output_tokens(d.pop("max_output_tokens"))


        def _parse_max_repeated_tool_calls(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        max_repeated_tool_calls = _parse_max_repeated_tool_calls(d.pop("max_repeated_tool_calls"))


        model = d.pop("model")

        name = d.pop("name")

        def _parse_output_schema(data: object) -> AgentViewOutputSchemaType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                output_schema_type_0 = AgentViewOutputSchemaType0.from_dict(data)



                return output_schema_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AgentViewOutputSchemaType0 | None, data)

        output_schema = _parse_output_schema(d.pop("output_schema"))


        def _parse_provider_outage_tolerance_s(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        provider_outage_tolerance_s = _parse_provider_outage_tolerance_s(d.pop("provider_outage_tolerance_s"))


        system_prompt = d.pop("system_prompt")

        tools = []
        _tools = d.pop("tools")
        for tools_item_data in (_tools):
            tools_item = ToolView.from_dict(tools_item_data)



            tools.append(tools_item)


        updated_at = d.pop("updated_at")

        agent_view = cls(
            await_input=await_input,
            created_at=created_at,
            limits=limits,
            max_output_tokens=max_output_tokens,
            max_repeated_tool_calls=max_repeated_tool_calls,
            model=model,
            name=name,
            output_schema=output_schema,
            provider_outage_tolerance_s=provider_outage_tolerance_s,
            system_prompt=system_prompt,
            tools=tools,
            updated_at=updated_at,
        )


        agent_view.additional_properties = d
        return agent_view

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
