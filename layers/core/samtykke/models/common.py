"""Shared model pieces: the base of every model, the error body, and a base that accepts HTML form posts too."""

import re
import typing
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError


class Model(BaseModel):
    """The base of every samtykke model.

    A model builds its validator and serializer on first use rather than at import: a handler imports many models
    and uses few of them, and the build is most of a model's import cost.
    """

    model_config = ConfigDict(defer_build=True)


class PatchModel(Model):
    """A PATCH body: a field left out stays as it is, and `null` clears only the fields in `clearable`.

    `{}` is a valid patch that changes nothing.
    """

    clearable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _refuse_nulls(self) -> "PatchModel":
        nulled = sorted(n for n in self.model_fields_set if getattr(self, n) is None and n not in self.clearable)
        if nulled:
            raise PydanticCustomError(
                "null_not_allowed", "These fields cannot be cleared: {fields}", {"fields": nulled}
            )
        return self


class ErrorDetail(Model):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(Model):
    error: ErrorDetail


def _is_list_annotation(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (list, tuple, set, frozenset):
        return True
    return any(_is_list_annotation(arg) for arg in typing.get_args(annotation))


BRACKETED = re.compile(r"^([a-z_]+)\[([A-Za-z0-9_]{1,40})\]$")


class FormTolerantModel(Model):
    """A request model that a plain HTML form can post.

    Form bodies arrive as `{field: [values]}`; a single value posted for a scalar field is unwrapped,
    and an empty form value counts as absent. `field[key]=value` fills the object field `field` (e.g.
    `custom_fields[loyalty_no]=42`). JSON bodies pass through unchanged.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _unwrap_form_values(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        unwrapped: dict[str, Any] = {}
        for name, value in data.items():
            field = cls.model_fields.get(name)
            is_scalar = field is not None and not _is_list_annotation(field.annotation)
            if is_scalar and isinstance(value, list) and len(value) == 1:
                value = value[0]
            if value == "" or value == [""]:
                continue
            bracketed = BRACKETED.match(name)
            if bracketed and bracketed.group(1) in cls.model_fields and isinstance(value, list):
                entries = unwrapped.setdefault(bracketed.group(1), {})
                if isinstance(entries, dict):
                    entries[bracketed.group(2)] = value[0] if len(value) == 1 else value
                    continue
            unwrapped[name] = value
        return unwrapped
