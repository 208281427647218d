"""Read Bicep templates as data: pycep's parse tree, with expressions rendered as short text.

pycep (``pycep-parser``) turns a ``.bicep`` file into nested dicts. Expressions come back as
``{"operator": ...}`` / ``{"function": ...}`` nodes; ``render`` turns them into compact text such as
``identity.properties.clientId`` or ``subscription_resource_id(Microsoft.Authorization/roleDefinitions,
roles.storageBlobDataOwner)`` so tests can compare them with one string.

pycep does not keep quotes: the string literal ``'table'`` and a reference to a parameter named
``table`` are both the plain string ``"table"``. ``resolve`` therefore treats a string that names a
parameter or variable of the template as a reference to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycep import BicepParser


class UnresolvedError(ValueError):
    """The value is only known at deployment time (a resource property, a module output, ...)."""


@dataclass(frozen=True)
class Template:
    """One parsed Bicep file."""

    path: Path
    tree: dict[str, Any]

    @property
    def parameters(self) -> dict[str, Any]:
        return self.tree.get("parameters", {})

    @property
    def variables(self) -> dict[str, Any]:
        return self.tree.get("variables", {})

    @property
    def resources(self) -> dict[str, Any]:
        return self.tree.get("resources", {})

    @property
    def modules(self) -> dict[str, Any]:
        return self.tree.get("modules", {})

    @property
    def outputs(self) -> dict[str, Any]:
        return self.tree.get("outputs", {})

    def resource(self, symbol: str) -> dict[str, Any]:
        """A resource's body (``name``, ``properties``, ...), unwrapping ``= if (...) {...}``."""
        config = self.resources[symbol]["config"]
        return config["config"] if "condition" in config else config

    def condition(self, symbol: str) -> str | None:
        """The rendered ``if (...)`` condition of a conditional resource, else None."""
        config = self.resources[symbol]["config"]
        return render(config["condition"]) if "condition" in config else None

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Symbol -> body of every resource of ``resource_type``."""
        return {
            symbol: self.resource(symbol)
            for symbol, resource in self.resources.items()
            if resource["type"] == resource_type
        }

    def decorators(self, parameter: str) -> dict[str, Any]:
        """A parameter's decorators by type (``secure`` maps to True)."""
        found: dict[str, Any] = {}
        for decorator in self.parameters[parameter].get("decorators", []):
            found[decorator["type"]] = decorator.get("argument", True)
        return found

    def variable(self, name: str) -> Any:
        return self.variables[name]["value"]

    def resolve(self, node: Any) -> Any:
        """The deploy-time-independent value of ``node``: a literal, a parameter's default, a
        variable's value, or ``string(...)`` of one of those. Raises ``UnresolvedError`` otherwise."""
        if isinstance(node, bool | int | float) or node is None:
            return node
        if isinstance(node, str):
            if node in self.parameters:
                default = self.parameters[node].get("default")
                if default is None:
                    raise UnresolvedError(f"parameter {node!r} has no default")
                return self.resolve(default) if isinstance(default, dict) else default
            if node in self.variables:
                return self.resolve(self.variable(node))
            if "${" in node:
                raise UnresolvedError(f"interpolated string {node!r}")
            return node
        if isinstance(node, dict) and "function" in node and node["function"]["type"] == "string":
            value = self.resolve(node["function"]["parameters"]["value_to_convert"])
            return str(value).lower() if isinstance(value, bool) else str(value)
        raise UnresolvedError(f"not a deploy-time constant: {render(node)}")


def load(path: Path) -> Template:
    """Parse one ``.bicep`` file (raises on a syntax error)."""
    return Template(path=path, tree=BicepParser().parse(file_path=path))


def render(node: Any) -> str:
    """Compact text for an expression node (see the module docstring)."""
    if isinstance(node, dict):
        if "operator" in node:
            return _render_operator(node["operator"])
        if "function" in node:
            function = node["function"]
            arguments = [render(value) for value in function.get("parameters", {}).values() if value is not None]
            return f"{function['type']}({', '.join(arguments)})"
        return "{" + ", ".join(f"{key}: {render(value)}" for key, value in node.items()) + "}"
    if isinstance(node, list):
        return "[" + ", ".join(render(item) for item in node) + "]"
    if isinstance(node, bool):
        return str(node).lower()
    return str(node)


def _render_operator(operator: dict[str, Any]) -> str:
    kind = operator["type"]
    operands = operator["operands"]
    if kind == "property_accessor":
        return f"{render(operands['operand_1'])}.{render(operands['operand_2'])}"
    if kind == "conditional":
        return f"{render(operands['condition'])} ? {render(operands['true_value'])} : {render(operands['false_value'])}"
    if kind == "not":
        return f"!{render(operands['bool_value'])}"
    return f"{kind}({', '.join(render(value) for value in operands.values())})"
