"""Commands whose argument is a search query, which may start with ``-``: the README's
own negation, ``netatlas search '-port:80'``. Click would read ``-port:80`` as the
unknown short option ``-p``; here an argument that starts with ``-`` but names none of
the command's options is the query (``--`` before it works too)."""

from __future__ import annotations

import click


class QueryCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._queries_last(ctx, args))

    def _queries_last(self, ctx: click.Context, args: list[str]) -> list[str]:
        """``args`` with each leading-dash query moved behind a ``--``, so that options
        typed after the query are still read as options."""
        valued: set[str] = set()
        flags: set[str] = set()
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                names = {*param.opts, *param.secondary_opts}
                (flags if param.is_flag or param.count else valued).update(names)
        out: list[str] = []
        queries: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                queries.extend(args[i + 1:])
                break
            name = arg.split("=", 1)[0]
            if arg.startswith("-") and len(arg) > 1 and name not in valued | flags \
                    and not arg.startswith("--"):
                queries.append(arg)  # `-port:80`: a query, not an option
            else:
                out.append(arg)
                if name in valued and "=" not in arg and i + 1 < len(args):
                    out.append(args[i + 1])  # the option's value, whatever it looks like
                    i += 1
            i += 1
        return [*out, "--", *queries] if queries else out
