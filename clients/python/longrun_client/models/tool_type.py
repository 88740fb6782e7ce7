from enum import StrEnum

class ToolType(StrEnum):
    BUILTIN = "builtin"
    CLIENT = "client"
    MCP = "mcp"
    WEBHOOK = "webhook"

    def __str__(self) -> str:
        return str(self.value)
