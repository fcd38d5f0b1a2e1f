"""Learning from runs: recorded steps as training examples (:mod:`.examples`), written as LLaMA-Factory, Hugging Face
``datasets`` or OpenAI-style files (:mod:`.export`), and LoRA fine-tuning of a model on them (:mod:`.finetune`)."""
