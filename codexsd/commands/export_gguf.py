"""`codexsd export-gguf`: a trained model folder as a GGUF file for llama.cpp (`--model gguf:FILE`)."""

from __future__ import annotations

import argparse

HELP = "write a trained Llama-family model folder as GGUF (metadata and tokenizer from a template GGUF)"
DESCRIPTION = (HELP + ". The template defaults to the GGUF the model was trained from, else the bundled "
               "SmolLM2; llama.cpp samples several times faster than transformers on a CPU.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from codexsd.models.gguf_export import TYPES

    parser.add_argument("model", help="a transformers model folder (e.g. the output of codexsd train)")
    parser.add_argument("-o", "--output", required=True, help="the .gguf file to write")
    parser.add_argument("--template", help="GGUF whose tokenizer and metadata to copy")
    parser.add_argument("--type", default="q8_0", choices=TYPES, help="tensor type of the weights (default: q8_0)")


def run(args: argparse.Namespace) -> int:
    from codexsd.models.gguf_export import export_gguf

    print(export_gguf(args.model, args.output, template=args.template, out_type=args.type))
    return 0
