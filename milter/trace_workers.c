/*
 * trace_workers - the batches of lines and the worker threads that parse
 * them (og_trace_set_threads).
 *
 * The lines the merge puts in order are copied into batches (trace_read.c)
 * that the workers parse (trace_scan.c); the caller takes the batches back
 * in the order they were filled, so the records come in the same order with
 * or without workers.  Without workers a batch is parsed in the caller's
 * thread as it is handed over.  The reader's lock protects only the
 * batches' states, and STOP: a batch is filled and taken by the caller's
 * thread and parsed by one worker in between.
 *
 * Errors: workers that cannot be started are done without (the batches are
 * parsed by those that could, or in the caller's thread); out of memory or
 * a lock that cannot be made is -1 from og_trace_batches_start.
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdlib.h>

#include "trace_read_internal.h"

/* A worker: the oldest queued batch, parsed outside the lock, until STOP. */
static void *worker(void *arg)
{
	struct og_trace_reader *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct batch *b = NULL;

		for (size_t i = 0; i < r->n_batches; i++)
			if (r->batches[i].state == B_QUEUED &&
			    (b == NULL || r->batches[i].seq < b->seq))
				b = &r->batches[i];
		if (b == NULL) {
			if (r->stop)
				break;
			pthread_cond_wait(&r->work, &r->lock);
			continue;
		}
		b->state = B_BUSY;
		pthread_mutex_unlock(&r->lock);
		og_trace_parse_batch(b, !r->no_scan);
		pthread_mutex_lock(&r->lock);
		b->state = B_DONE;
		pthread_cond_broadcast(&r->done);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* B's state, set by the reader's thread; under the lock while workers run. */
void og_trace_batch_set_state(struct og_trace_reader *r, struct batch *b, enum batch_state st)
{
	if (r->sync)
		pthread_mutex_lock(&r->lock);
	b->state = st;
	if (r->sync)
		pthread_mutex_unlock(&r->lock);
}

bool og_trace_batch_is_free(struct og_trace_reader *r, struct batch *b)
{
	bool f;

	if (r->sync)
		pthread_mutex_lock(&r->lock);
	f = b->state == B_FREE;
	if (r->sync)
		pthread_mutex_unlock(&r->lock);
	return f;
}

/* Hand B to the workers, or parse it here without them. */
void og_trace_batch_submit(struct og_trace_reader *r, struct batch *b)
{
	if (r->n_workers == 0) {
		og_trace_parse_batch(b, !r->no_scan);
		b->state = B_DONE;
		return;
	}
	pthread_mutex_lock(&r->lock);
	b->state = B_QUEUED;
	pthread_cond_signal(&r->work);
	pthread_mutex_unlock(&r->lock);
}

void og_trace_batch_await(struct og_trace_reader *r, struct batch *b)
{
	if (r->n_workers == 0)
		return;
	pthread_mutex_lock(&r->lock);
	while (b->state != B_DONE)
		pthread_cond_wait(&r->done, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

/* The batches, and the workers (as many as can be started).  0 or -1. */
int og_trace_batches_start(struct og_trace_reader *r)
{
	r->n_batches = r->want_workers > 0 ? 2 * (size_t)r->want_workers + 1 : 1;
	if ((r->batches = calloc(r->n_batches, sizeof(*r->batches))) == NULL)
		return -1;
	if (r->want_workers == 0)
		return 0;
	if ((r->workers = calloc((size_t)r->want_workers, sizeof(*r->workers))) == NULL ||
	    pthread_mutex_init(&r->lock, NULL) != 0)
		return -1;
	if (pthread_cond_init(&r->work, NULL) != 0 || pthread_cond_init(&r->done, NULL) != 0) {
		pthread_mutex_destroy(&r->lock);
		return -1;
	}
	r->sync = true;
	while (r->n_workers < r->want_workers &&
	       pthread_create(&r->workers[r->n_workers], NULL, worker, r) == 0)
		r->n_workers++;
	return 0;
}

void og_trace_batches_stop(struct og_trace_reader *r)
{
	if (r->sync) {
		pthread_mutex_lock(&r->lock);
		r->stop = true;
		pthread_cond_broadcast(&r->work);
		pthread_mutex_unlock(&r->lock);
		for (int i = 0; i < r->n_workers; i++)
			pthread_join(r->workers[i], NULL);
		pthread_cond_destroy(&r->work);
		pthread_cond_destroy(&r->done);
		pthread_mutex_destroy(&r->lock);
	}
	free(r->workers);
	for (size_t i = 0; r->batches != NULL && i < r->n_batches; i++) {
		for (size_t k = 0; k < BATCH_LINES; k++) {
			struct slot *sl = &r->batches[i].slot[k];

			json_decref(sl->pre);
			free(sl->raw.data);
			free(sl->arena.data);
			free(sl->rec.rcpts.v);
			free(sl->rec.rules.v);
			free(sl->rec.queue_ids.v);
		}
	}
	free(r->batches);
}
