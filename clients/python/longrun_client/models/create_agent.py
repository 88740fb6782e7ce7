from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.agent_limits import AgentLimits
  from ..models.create_agent_output_schema_type_0 import CreateAgentOutputSchemaType0
  from ..models.tool_object import ToolObject





T = TypeVar("T", bound="CreateAgent")



@_attrs_define
class CreateAgent:
    """ An agent's definition (`POST /v1/agents`, `PUT /v1/agents/{name}`).

        Attributes:
            model (str): `provider/model-name`: `anthropic/…`, `openai/…` (any OpenAI-compatible server) or
                `offline/demo`. Example: offline/demo.
            name (str): 1 to 64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit. In
                `PUT`, the name in the path (agents cannot be renamed). Example: helper.
            await_input (bool | Unset): When the model ends its turn with a question, wait for a human answer.
            limits (AgentLimits | Unset): Limits of a run: an agent's defaults, or a run's tighter budget.
            max_output_tokens (int | None | Unset): The model's output limit per call, 1 to 200000 (default 4096).
            max_repeated_tool_calls (int | None | Unset): The same tool called with the same input this many times in a row
                gets an error
                result; once more ends the run `failed` (`no_progress`). 0 to 100; default 3; 0: never.
            output_schema (CreateAgentOutputSchemaType0 | None | Unset): Structured output: the final answer must be JSON
                valid for this JSON Schema object
                (at most 16 KiB); the run's view then carries it as `result_json`. A run may set its
                own. See `docs/agent-runs.md`.
            provider_outage_tolerance_s (int | None | Unset): Seconds a model call waits out its provider's outage (429,
                5xx, timeouts, retried
                with backoff; the run shows `waiting_provider` meanwhile) before the run fails; 0
                fails at the first such error; up to 604800 (7 days). Default: the operator's
                (`LONGRUN_PROVIDER_OUTAGE_TOLERANCE_S`, an hour).
            system_prompt (str | Unset): At most 64 KiB. Example: Be exact..
            tools (list[str | ToolObject] | Unset): At most 32, each named once: a built-in tool's name, or an object.
                Example: ['calculator'].
     """

    model: str
    name: str
    await_input: bool | Unset = UNSET
    limits: AgentLimits | Unset = UNSET
    max_output_tokens: int | None | Unset = UNSET
    max_repeated_tool_calls: int | None | Unset = UNSET
    output_schema: CreateAgentOutputSchemaType0 | None | Unset = UNSET
    provider_outage_tolerance_s: int | None | Unset = UNSET
    system_prompt: str | Unset = UNSET
    tools: list[str | ToolObject] | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.agent_limits import AgentLimits # noqa: PLC0415
        from ..models.create_agent_output_schema_type_0 import CreateAgentOutputSchemaType0 # noqa: PLC0415
        from ..models.tool_object import ToolObject # noqa: PLC0415
        model = self.model

        name = self.name

        await_input = self.await_input

        limits: dict[str, Any] | Unset = UNSET
        if not isinstance(self.limits, Unset):
            limits = self.limits.to_dict()

        max_output_tokens: int | None | Unset
        if isinstance(self.max_output_tokens, Unset):
            max_output_tokens = UNSET
        else:
            max_output_tokens = self.max_output_tokens

        max_repeated_tool_calls: int | None | Unset
        if isinstance(self.max_repeated_tool_calls, Unset):
            max_repeated_tool_calls = UNSET
        else:
            max_repeated_tool_calls = self.max_repeated_tool_calls

        output_schema: dict[str, Any] | None | Unset
        if isinstance(self.output_schema, Unset):
            output_schema = UNSET
        elif isinstance(self.output_schema, CreateAgentOutputSchemaType0):
            output_schema = self.output_schema.to_dict()
        else:
            output_schema = self.output_schema

        provider_outage_tolerance_s: int | None | Unset
        if isinstance(self.provider_outage_tolerance_s, Unset):
            provider_outage_tolerance_s = UNSET
        else:
            provider_outage_tolerance_s = self.provider_outage_tolerance_s

        system_prompt = self.system_prompt

        tools: list[dict[str, Any] | str] | Unset = UNSET
        if not isinstance(self.tools, Unset):
            tools = []
            for tools_item_data in self.tools:
                tools_item: dict[str, Any] | str
                if isinstance(tools_item_data, ToolObject):
                    tools_item = tools_item_data.to_dict()
                else:
                    tools_item = tools_item_data
                tools.append(tools_item)




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "model": model,
            "name": name,
        })
        if await_input is not UNSET:
            field_dict["await_input"] = await_input
        if limits is not UNSET:
            field_dict["limits"] = limits
        if max_output_tokens is not UNSET:
            field_dict["max_output_tokens"] = max_output_tokens
        if max_repeated_tool_calls is not UNSET:
            field_dict["max_repeated_tool_calls"] = max_repeated_tool_calls
        if output_schema is not UNSET:
            field_dict["output_schema"] = output_schema
        if provider_outage_tolerance_s is not UNSET:
            field_dict["provider_outage_tolerance_s"] = provider_outage_tolerance_s
        if system_prompt is not UNSET:
            field_dict["system_prompt"] = system_prompt
        if tools is not UNSET:
            field_dict["tools"] = tools

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.agent_limits import AgentLimits # noqa: PLC0415
        from ..models.create_agent_output_schema_type_0 import CreateAgentOutputSchemaType0 # noqa: PLC0415
        from ..models.tool_object import ToolObject # noqa: PLC0415
        d = dict(src_dict)
        model = d.pop("model")

        name = d.pop("name")

        await_input = d.pop("await_input", UNSET)

        _limits = d.pop("limits", UNSET)
        limits: AgentLimits | Unset
        if isinstance(_limits,  Unset):
            limits = UNSET
        else:
            limits = AgentLimits.from_dict(_limits)




        def _parse_max_output_tokens(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_output_tokens = _parse_max_output_tokens(d.pop("max_output_tokens", UNSET))


        def _parse_max_repeated_tool_calls(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_repeated_tool_calls = _parse_max_repeated_tool_calls(d.pop("max_repeated_tool_calls", UNSET))


        def _parse_output_schema(data: object) -> CreateAgentOutputSchemaType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                output_schema_type_0 = CreateAgentOutputSchemaType0.from_dict(data)



                return output_schema_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CreateAgentOutputSchemaType0 | None | Unset, data)

        output_schema = _parse_output_schema(d.pop("output_schema", UNSET))


        def _parse_provider_outage_tolerance_s(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        provider_outage_tolerance_s = _parse_provider_outage_tolerance_s(d.pop("provider_outage_tolerance_s", UNSET))


        system_prompt = d.pop("system_prompt", UNSET)

        _tools = d.pop("tools", UNSET)
        tools: list[str | ToolObject] | Unset = UNSET
        if _tools is not UNSET:
            tools = []
            for tools_item_data in _tools:
                def _parse_tools_item(data: object) -> str | ToolObject:
                    try:
                        if not isinstance(data, dict):
                            raise TypeError()
                        componentsschemas_tool_item_type_1 = ToolObject.from_dict(data)



                        return componentsschemas_tool_item_type_1
                    except (TypeError, ValueError, AttributeError, KeyError):
                        pass
                    return cast(str | ToolObject, data)

                tools_item = _parse_tools_item(tools_item_data)

                tools.append(tools_item)


        create_agent = cls(
            model=model,
            name=name,
            await_input=await_input,
            limits=limits,
            max_output_tokens=max_output_tokens,
            max_repeated_tool_calls=max_repeated_tool_calls,
            output_schema=output_schema,
            provider_outage_tolerance_s=provider_outage_tolerance_s,
            system_prompt=system_prompt,
            tools=tools,
        )

        return create_agent

