"""Batch collator for cached Voxtral examples: it only pads and stacks (no audio work at step time).

Like transformers' speech-recognition example collator, but the prompt and features were computed once by
``voxstudio.training.features``. Text is right-padded with the pad id (labels with −100, attention 0); feature chunks
of all examples are concatenated in example order, which is the order Voxtral fills its audio tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

IGNORE_INDEX = -100


@dataclass
class VoxtralCollator:
    """``[{"input_ids", "labels", "input_features" (k, mel, frames)}]`` → padded tensors."""

    pad_token_id: int
    label_pad_id: int = IGNORE_INDEX
    pad_to_multiple_of: int | None = None

    def __call__(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        if not examples:
            raise ValueError("cannot collate an empty batch")
        width = max(len(e["input_ids"]) for e in examples)
        if self.pad_to_multiple_of:
            m = self.pad_to_multiple_of
            width = (width + m - 1) // m * m
        n = len(examples)
        input_ids = torch.full((n, width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((n, width), self.label_pad_id, dtype=torch.long)
        attention = torch.zeros((n, width), dtype=torch.long)
        for i, e in enumerate(examples):
            size = len(e["input_ids"])
            if len(e["labels"]) != size:
                raise ValueError(f"example {i}: {size} input ids but {len(e['labels'])} labels")
            input_ids[i, :size] = torch.as_tensor(e["input_ids"], dtype=torch.long)
            labels[i, :size] = torch.as_tensor(e["labels"], dtype=torch.long)
            attention[i, :size] = 1
        chunks = [np.asarray(e["input_features"], dtype=np.float32) for e in examples]
        features = torch.from_numpy(np.concatenate(chunks, axis=0))
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels, "input_features": features}
