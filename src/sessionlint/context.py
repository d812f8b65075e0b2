"""What a rule sees of the file it checks."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from sessionlint.model.index import ModuleIndex
from sessionlint.model.project import SourceFile
from sessionlint.model.semantic import Model
from sessionlint.versions import TargetVersions


@dataclass(frozen=True)
class FileContext:
    """The file being checked, the shared semantic model and the target versions."""

    file: SourceFile
    model: Model
    versions: TargetVersions

    @property
    def module(self) -> cst.Module:
        return self.file.module

    @property
    def index(self) -> ModuleIndex:
        return self.file.index
