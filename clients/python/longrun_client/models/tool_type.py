from enum import StrEnum

class ToolType(StrEnum):
    BUILTIN = "builtin"
    WEBHOOK = "webhook"

    def __str__(self) -> str:
        return str(self.value)
