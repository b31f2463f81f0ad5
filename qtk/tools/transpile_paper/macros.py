"""User definitions in the paper: \\newcommand-style macros (\\newcommand, \\renewcommand,
\\providecommand with an optional argument, \\def, \\let, \\DeclareMathOperator, \\algnewcommand,
xparse's \\NewDocumentCommand family; expanded before parsing by expansion.py), \\newenvironment and
\\NewDocumentEnvironment wrappers, algorithm2e's \\SetKw* keyword declarations and algorithmicx's
\\algblock blocks (turned into aliases of the built-in commands), and the \\usepackage list.

Follows the command sets of algorithmicx (\\algnewcommand, \\algblock, \\algdef) and
algorithm2e (\\SetKwFunction, \\SetKwProg, \\SetKwInOut, \\SetKwFor, \\SetKwIF, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qtk.tools.transpile_paper.source import (
    Document,
    Src,
    read_command,
    read_delimited,
    read_group,
    skip_ws,
)

# Package commands that keep their meaning even when a paper redefines them (a redefinition
# usually only changes how they print).
PROTECTED = {
    "State", "Statex", "STATE", "STATEx", "If", "ElsIf", "Else", "EndIf", "For", "ForAll",
    "EndFor", "While", "EndWhile", "Repeat", "Until", "Loop", "EndLoop", "Function",
    "EndFunction", "Procedure", "EndProcedure", "Return", "Call", "Comment", "Require", "Ensure",
    "IF", "ELSIF", "ELSE", "ENDIF", "FOR", "FORALL", "ENDFOR", "WHILE", "ENDWHILE", "REPEAT",
    "UNTIL", "LOOP", "ENDLOOP", "REQUIRE", "ENSURE", "RETURN", "PRINT", "COMMENT",
    "eIf", "uIf", "lIf", "ElseIf", "uElseIf", "lElseIf", "lElse", "uElse", "ForEach",
    "lFor", "lForEach", "lForAll", "lWhile", "lRepeat", "Switch", "Case", "uCase", "lCase",
    "Other", "lOther", "KwIn", "KwOut", "KwData", "KwResult", "KwRet", "tcc", "tcp", "Begin",
}

_NEWCOMMANDS = {"newcommand", "renewcommand", "providecommand", "algnewcommand", "algrenewcommand"}
_KW_EXPANDING = {"SetKw": "\\textbf{%s}", "SetKwHangingKw": "\\textbf{%s}",
                 "SetKwData": "\\mathit{%s}", "SetKwArray": "\\mathit{%s}"}
_IGNORED_DEFS = {"ResetInOut": 1}


@dataclass
class Macro:
    name: str
    n_args: int = 0
    default: str | None = None  # default of an optional first argument
    body: str = ""
    kind: str = "expand"  # expand | kwfunction | paired


@dataclass
class Definitions:
    """Everything the paper declares that changes how algorithm bodies read."""

    macros: dict[str, Macro] = field(default_factory=dict)
    io: dict[str, str] = field(default_factory=dict)  # \SetKwInput/\SetKwInOut: cmd -> label
    progs: dict[str, str] = field(default_factory=dict)  # \SetKwProg: cmd -> label
    prog_ends: dict[str, str] = field(default_factory=dict)  # \SetKwProg's end text when it returns
    aliases: dict[str, str] = field(default_factory=dict)  # user cmd -> built-in cmd
    blocks: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # start -> (end, kind, n)
    packages: set[str] = field(default_factory=set)
    environments: dict[str, tuple[int, str | None, str, str]] = field(default_factory=dict)  # n, default, begin, end


# algorithm2e's keywords in the languages its options name (french, portuguese, spanish, german,
# italiano): the built-in command each stands for, and the Input/Output labels among them.
_A2E_LANGUAGES = {
    **{k: "For" for k in ("Pour", "Para", "Fuer", "Per")},
    **{k: "ForEach" for k in ("PourCh", "ParaCada", "FuerJedes", "PerOgni")},
    **{k: "ForAll" for k in ("PourTous", "ParaTodo", "FuerAlle", "PerTutti")},
    **{k: "While" for k in ("Tq", "Enqto", "Mientras", "Solange", "Mentre")},
    **{k: "Repeat" for k in ("Repeter", "Repita", "Repetir", "Wiederh", "Ripeti")},
    **{k: "Begin" for k in ("Deb", "Inicio", "Beginn", "Inizio")},
    **{k: "If" for k in ("Si", "Se", "Wenn")},
    **{k: "ElseIf" for k in ("SinonSi", "SenaoSe", "SinoSi", "SonstWenn", "AltrimentiSe")},
    **{k: "Else" for k in ("Sinon", "Senao", "Sino", "Sonst", "Altrimenti")},
    **{k: "KwRet" for k in ("Retour", "Retorna", "KwRetorna", "Devolver", "Zurueck", "KwZurueck", "Ritorna",
                            "KwRitorna")},
    **{k: "KwTo" for k in ("KwA", "Ate", "Bis")},
}
_A2E_LANGUAGE_IO = {"Entree": "Input", "Sortie": "Output", "Donnees": "Data", "Res": "Result",
                    "Entrada": "Input", "Saida": "Output", "Salida": "Output", "Dados": "Data", "Datos": "Data",
                    "Resultado": "Result", "Ein": "Input", "Aus": "Output", "Daten": "Data", "Ergebnis": "Result",
                    "KwIng": "Input", "KwUsc": "Output", "KwDati": "Data", "KwRisult": "Result"}


def _a2e_languages(defs: "Definitions") -> None:
    """algorithm2e's keywords of other languages, unless the paper defines the name itself."""
    for name, builtin in _A2E_LANGUAGES.items():
        if name in defs.macros or name in defs.aliases or name in defs.io:
            continue
        if builtin in ("KwRet", "KwTo"):  # read inside statements: a macro for the English command
            defs.macros[name] = Macro(name, 0, None, "\\" + builtin)
            continue
        prefixes = ("", "u", "l", "e", "le") if builtin in ("If", "ElseIf", "Else") else ("", "l")
        for prefix in prefixes if builtin in ("If", "ElseIf", "Else", "For", "ForEach", "ForAll", "While",
                                              "Repeat") else ("",):
            defs.aliases.setdefault(prefix + name, prefix + builtin)
    for name, label in _A2E_LANGUAGE_IO.items():
        if name not in defs.macros and name not in defs.aliases:
            defs.io.setdefault(name, label)


def collect(src: Src, doc: Document) -> Definitions:
    """Scan the comment-free document for definitions and \\usepackage lines."""
    defs = Definitions()
    text = src.text
    for m in re.finditer(r"\\(?:usepackage|RequirePackage)\s*(?:\[[^\]]*\])?\s*\{([^}]*)\}", text):
        defs.packages.update(p.strip() for p in m.group(1).split(",") if p.strip())
    i = 0
    while True:
        i = text.find("\\", i)
        if i < 0:
            break
        name, j = read_command(text, i)
        end = parse_definition(text, i, name, defs) if name in DEFINERS else None
        i = end if end else j
    if "algorithm2e" in defs.packages or re.search(r"\\(?:Tq|Pour|Para|Enqto|Mientras|Solange|Fuer|Si|Se)\s*\{", text):
        _a2e_languages(defs)
    for package, macros in _PACKAGE_MACROS.items():  # what a loaded package defines, unless the paper does
        if package in defs.packages:
            for macro in macros:
                defs.macros.setdefault(macro.name, macro)
    return defs


# Macros of packages papers load for their pseudo-code maths (braket's `\\Set{0}` is the set {0}).
_PACKAGE_MACROS = {"braket": [Macro("Set", 1, None, "\\{ #1 \\}"), Macro("set", 1, None, "\\{ #1 \\}")]}


def parse_definition(text: str, i: int, name: str, defs: Definitions | None) -> int | None:
    """Parse the definition command at i; record it in defs (if given); return the end index."""
    j = i + 1 + len(name)
    if j < len(text) and text[j] == "*":
        j += 1
    handler = DEFINERS[name]
    try:
        return handler(text, j, name, defs)
    except _Skip:
        return None


class _Skip(Exception):
    """The text after a definer is not a definition we understand: treat it as plain text."""


def _cs_name(text: str, j: int) -> tuple[str, int]:
    """`\\name` or `{\\name}` or `{name}` (algorithm2e spells names without the backslash)."""
    j = skip_ws(text, j)
    if j < len(text) and text[j] == "\\":
        name, k = read_command(text, j)
        return name, k
    g = read_group(text, j)
    if g is None:
        raise _Skip
    inner = text[g[0] : g[1]].strip().lstrip("\\")
    if not inner:
        raise _Skip
    return inner, g[2]


def _group(text: str, j: int) -> tuple[str, int]:
    g = read_group(text, j)
    if g is None:
        raise _Skip
    return text[g[0] : g[1]], g[2]


def _optional(text: str, j: int) -> tuple[str | None, int]:
    g = read_delimited(text, j, "[", "]")
    if g is None:
        return None, j
    return text[g[0] : g[1]], g[2]


def _newcommand(text: str, j: int, definer: str, defs: Definitions | None) -> int:
    name, j = _cs_name(text, j)
    count, j = _optional(text, j)
    default, j = _optional(text, j) if count is not None else (None, j)
    body, j = _group(text, j)
    if defs is not None and name not in PROTECTED:
        n = int(count) if count and count.strip().isdigit() else 0
        if definer == "providecommand" and name in defs.macros:
            return j
        defs.macros[name] = Macro(name, n, default, body)
    return j


def _def(text: str, j: int, definer: str, defs: Definitions | None) -> int:
    j = skip_ws(text, j)
    if j >= len(text) or text[j] != "\\":
        raise _Skip
    name, j = read_command(text, j)
    params = re.match(r"(#\d)*", text[j:])
    n = len(params.group(0)) // 2 if params else 0
    j += len(params.group(0)) if params else 0
    body, j = _group(text, j)
    if defs is not None and name not in PROTECTED:
        defs.macros[name] = Macro(name, n, None, body)
    return j


def _let(text: str, j: int, definer: str, defs: Definitions | None) -> int:
    """\\let\\new\\old (or \\let\\new=\\old): \\new means what \\old means; \\let\\x\\undefined forgets \\x."""
    j = skip_ws(text, j)
    if j >= len(text) or text[j] != "\\":
        raise _Skip
    name, j = read_command(text, j)
    j = skip_ws(text, j)
    if j < len(text) and text[j] == "=":
        j = skip_ws(text, j + 1)
    if j >= len(text) or text[j] != "\\":
        raise _Skip
    target, j = read_command(text, j)
    if defs is not None and name not in PROTECTED:
        if target in ("undefined", "relax", "@undefined"):
            defs.macros.pop(name, None)
        elif target in defs.macros:
            defs.macros[name] = defs.macros[target]
        else:
            defs.macros[name] = Macro(name, 0, None, "\\" + target)
    return j


def _operator(text: str, j: int, definer: str, defs: Definitions | None) -> int:
    name, j = _cs_name(text, j)
    body, j = _group(text, j)
    if defs is not None:
        defs.macros[name] = Macro(name, 0, None, "\\operatorname{%s}" % body)
    return j


def _paired(text: str, j: int, definer: str, defs: Definitions | None) -> int:
    name, j = _cs_name(text, j)
    left, j = _group(text, j)
    right, j = _group(text, j)
    if defs is not None:
        defs.macros[name] = Macro(name, 1, None, f"{left} #1 {right}", kind="paired")
    return j


def _kw_function(text: str, j: int, definer: str, defs: Definitions | None) -> int:
    name, j = _cs_name(text, j)
    label, j = _group(text, j)
    if defs is not None:
        defs.macros[name] = Macro(name, 1, None, label, kind="kwfunction")
    return j


def _kw_expanding(text: str, j: int, definer: str, defs: Definitions | None) -> int:
    name, j = _cs_name(text, j)
    label, j = _group(text, j)
    if defs is not None and name not in PROTECTED:
        defs.macros[name] = Macro(name, 0, None, _KW_EXPANDING[definer] % label)
    return j


def _kw_input(text: str, j: int, definer: str, defs: Definitions | None) -> int:
    name, j = _cs_name(text, j)
    label, j = _group(text, j)
    if defs is not None:
        defs.io[name] = label.strip()
    return j


def _kw_prog(text: str, j: int, definer: str, defs: Definitions | None) -> int:
    name, j = _cs_name(text, j)
    label, j = _group(text, j)
    _, j = _group(text, j)
    end, j = _group(text, j)
    if defs is not None:
        defs.progs[name] = label.strip()
        if re.search(r"\\(?:KwRet|Return)(?![A-Za-z])", end):  # {\KwRet x}: every such block ends returning x
            defs.prog_ends[name] = end.strip()
    return j


def _kw_aliasing(text: str, j: int, definer: str, defs: Definitions | None) -> int:
    """\\SetKwFor/Repeat/Block/IF/Switch/Comment: the new names behave like the built-in ones."""
    n_names = {"SetKwIF": 3, "SetKwSwitch": 3}.get(definer, 1)
    n_texts = {"SetKwFor": 3, "SetKwRepeat": 2, "SetKwBlock": 2, "SetKwIF": 5,
               "SetKwSwitch": 5, "SetKwComment": 2}[definer]
    names, texts = [], []
    for _ in range(n_names):
        name, j = _cs_name(text, j)
        names.append(name)
    for _ in range(n_texts):
        t, j = _group(text, j)
        texts.append(t.lower())
    if defs is not None:
        _register_aliases(defs, definer, names, texts)
    return j


def _register_aliases(defs: Definitions, definer: str, names: list[str], texts: list[str]) -> None:
    a = defs.aliases
    if definer == "SetKwFor":
        base = "While" if "while" in texts[0] else "For"
        a[names[0]], a["l" + names[0]] = base, "l" + base
    elif definer == "SetKwRepeat":
        base = "RepeatWhile" if "while" in texts[1] else "Repeat"
        a[names[0]], a["l" + names[0]] = base, "l" + base
    elif definer == "SetKwBlock":
        a[names[0]] = "Begin"
    elif definer == "SetKwComment":
        a[names[0]] = "tcc"
    elif definer == "SetKwIF":
        for prefix in ("", "u", "l", "e", "le"):
            a[prefix + names[0]] = prefix + "If"
        for prefix in ("", "u", "l"):
            a[prefix + names[1]] = prefix + "ElseIf"
            a[prefix + names[2]] = prefix + "Else"
    elif definer == "SetKwSwitch":
        a[names[0]] = "Switch"
        for prefix in ("", "u", "l"):
            a[prefix + names[1]] = prefix + "Case"
            a[prefix + names[2]] = prefix + "Other"


_BLOCK_ENDS = {"FOR": "EndFor", "WHILE": "EndWhile", "IF": "EndIf", "LOOP": "EndLoop",
               "PROCEDURE": "EndProcedure", "FUNCTION": "EndFunction"}


def _alg_block(text: str, j: int, definer: str, defs: Definitions | None) -> int:
    """\\algblock[N]{Start}{End}, \\algblockdefx[N]{Start}{End}[n]{..}..., \\algdef{SE}[N]{S}{E}..."""
    start_only = False
    if definer == "algdef":
        flags, j = _group(text, j)
        if "S" not in flags:
            raise _Skip
        start_only = "E" not in flags  # `\\algdef{S}[FOR]{ForEach}[1]{..}`: ended as block FOR is
    block, j = _optional(text, j)
    start, j = _cs_name(text, j)
    if start_only:
        if not block:
            raise _Skip
        end = _BLOCK_ENDS.get(block.strip().upper(), "End" + block.strip().capitalize())
    else:
        end, j = _cs_name(text, j)
    n_args, end_args = 0, 0
    texts: list[str] = []
    while True:  # the optional counts/defaults and the start/end texts, in whatever mix
        k = skip_ws(text, j)
        if k < len(text) and text[k] == "[":
            opt, j = _optional(text, k)
            if opt and opt.strip().isdigit() and not texts:
                n_args = int(opt.strip())
            elif opt and opt.strip().isdigit() and len(texts) == 1:
                end_args = int(opt.strip())  # `\\algdef{SE}[DOWHILE]{Do}{doWhile}{..}[1]{..}`: the end's argument
        elif k < len(text) and text[k] == "{" and definer != "algblock" and len(texts) < 2:
            t, j = _group(text, k)
            texts.append(t)
        else:
            break
    if defs is not None:
        label = (start + " " + " ".join(texts)).lower()
        kind = "While" if "while" in label else "For" if "for" in label else "Block"
        if end_args and len(texts) == 2:  # the condition comes at the end: do ... while / repeat ... until
            tail = (end + " " + texts[1]).lower()
            kind = "DoWhile" if "while" in tail else "Until" if "until" in tail else kind
        defs.blocks[start] = (end, kind, n_args)
    return j


def _newenvironment(text: str, j: int, definer: str, defs: Definitions | None) -> int:
    """\\newenvironment{name}[n][default]{begin code}{end code}: a wrapper, often around algorithmic."""
    g = read_group(text, j)
    if g is None:
        raise _Skip
    name, j = text[g[0] : g[1]].strip(), g[2]
    count, j = _optional(text, j)
    default, j = _optional(text, j) if count is not None else (None, j)
    begin, j = _group(text, j)
    end, j = _group(text, j)
    if defs is not None:
        n = int(count) if count and count.strip().isdigit() else 0
        defs.environments[name] = (n, default, begin, end)
    return j


def _xparse_args(spec: str) -> tuple[int, str | None]:
    """The argument count of an xparse specification (`m m`, `O{1} m`) in \\newcommand's terms: the
    mandatory arguments, plus a leading optional one with its default; stars and tokens (`s`, `t!`)
    take no argument of ours."""
    spec = re.sub(r"\s+", "", spec)
    n, default, k = 0, None, 0
    while k < len(spec):
        c = spec[k]
        if c in "mo":
            if c == "o" and n == 0 and default is None:
                default = ""
            n += 1
            k += 1
        elif c == "O" and k + 1 < len(spec) and spec[k + 1] == "{":
            g = read_group(spec, k + 1)
            if g is None:
                raise _Skip
            if n == 0 and default is None:
                default = spec[g[0] : g[1]]
            n += 1
            k = g[2]
        elif c in "st" or c in "+!":
            k += 2 if c == "t" else 1
        else:
            raise _Skip  # delimited and verbatim arguments: not a definition we follow
    return n, default


def _document_command(text: str, j: int, definer: str, defs: Definitions | None) -> int:
    """\\NewDocumentCommand{\\name}{spec}{body} (also Renew/Provide/Declare): like \\newcommand."""
    name, j = _cs_name(text, j)
    spec, j = _group(text, j)
    body, j = _group(text, j)
    n, default = _xparse_args(spec)
    if defs is not None and name not in PROTECTED:
        if definer == "ProvideDocumentCommand" and name in defs.macros:
            return j
        defs.macros[name] = Macro(name, n, default, body)
    return j


def _document_environment(text: str, j: int, definer: str, defs: Definitions | None) -> int:
    """\\NewDocumentEnvironment{name}{spec}{begin code}{end code} (also Renew/Provide/Declare): a
    wrapper, like \\newenvironment (`\\DeclareDocumentEnvironment{Algorithm*}{t!}{...}` around
    algorithm2e)."""
    g = read_group(text, j)
    if g is None:
        raise _Skip
    name, j = text[g[0] : g[1]].strip(), g[2]
    spec, j = _group(text, j)
    begin, j = _group(text, j)
    end, j = _group(text, j)
    n, default = _xparse_args(spec)
    if defs is not None:
        defs.environments[name] = (n, default, begin, end)
    return j


def _ignored(text: str, j: int, definer: str, defs: Definitions | None) -> int:
    for _ in range(_IGNORED_DEFS[definer]):
        _, j = _group(text, j)
    return j


DEFINERS = {
    **{n: _newcommand for n in _NEWCOMMANDS},
    "def": _def,
    "let": _let,
    "DeclareMathOperator": _operator,
    "DeclarePairedDelimiter": _paired,
    "SetKwFunction": _kw_function,
    **{n: _kw_expanding for n in _KW_EXPANDING},
    "SetKwInput": _kw_input,
    "SetKwInOut": _kw_input,
    "SetKwProg": _kw_prog,
    **{n: _kw_aliasing for n in ("SetKwFor", "SetKwRepeat", "SetKwBlock", "SetKwIF",
                                  "SetKwSwitch", "SetKwComment")},
    **{n: _alg_block for n in ("algblock", "algblockdefx", "algdef")},
    **{n: _ignored for n in _IGNORED_DEFS},
    **{n: _newenvironment for n in ("newenvironment", "renewenvironment")},
    **{f"{v}DocumentCommand": _document_command for v in ("New", "Renew", "Provide", "Declare")},
    **{f"{v}DocumentEnvironment": _document_environment for v in ("New", "Renew", "Provide", "Declare")},
}
