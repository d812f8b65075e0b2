"""The shared semantic layer: what is a session, a factory, a dependency, a route handler.

Every rule asks these questions through :class:`sessionlint.model.semantic.Model`; none of
them re-derives the answers.
"""
