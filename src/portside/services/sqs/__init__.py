"""Amazon SQS: standard and FIFO queues, durable in the store, with long polling."""
