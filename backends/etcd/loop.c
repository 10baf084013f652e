/*
 * The handle's event loop: one thread that owns a curl multi handle and
 * with it every HTTP/2 connection of the handle.
 *
 * Why one thread: libcurl lets many transfers share one HTTP/2 connection
 * (CURLPIPE_MULTIPLEX) only inside one multi handle, and a multi handle may
 * be used by one thread at a time. So callers never touch it: they queue a
 * job (add this stream, cancel that one, start or stop a watch) and wake
 * the loop with curl_multi_wakeup, the one multi call that is thread-safe.
 * The loop runs the jobs, lets curl move bytes, hands each finished
 * transfer to its stream, starts due watch reconnections, and sleeps in
 * curl_multi_poll until a socket, a curl timer, a watch timer or a wakeup
 * needs it. A thousand watches are a thousand streams on one connection
 * and cost this one thread nothing while idle.
 *
 * HTTP/2 without TLS ("h2c with prior knowledge"): libcurl 7.88.1, Debian
 * 12's, breaks a reused prior-knowledge connection when the new transfer
 * also asks for prior knowledge (it layers HTTP/2 onto the connection a
 * second time: "Error in the HTTP2 framing layer"; fixed upstream in 8.0).
 * A transfer that asks for plain CURL_HTTP_VERSION_2_0 instead reuses the
 * connection correctly, but opens a new connection as HTTP/1.1. So the
 * loop counts the open sockets per endpoint (open/close socket callbacks)
 * and asks for prior knowledge only when the endpoint has none and no
 * other prior-knowledge transfer is under way there (those added meanwhile
 * wait for its connection, CURLOPT_PIPEWAIT, and share it). If it
 * guessed wrong (a connection died unnoticed), etcd answers the HTTP/1.1
 * request with 404 without applying anything, and the caller retries the
 * same endpoint with prior knowledge (rpc.c, watch.c).
 *
 * Connections: new streams wait for a connection that is still being set up
 * (CURLOPT_PIPEWAIT, stream.c) instead of opening one each, and we raise
 * curl's own cap on streams per connection (100 by default) far above what
 * a handle uses; etcd allows 2^32-1 streams per connection unless
 * --max-concurrent-streams says otherwise, and past that limit curl opens a
 * second connection by itself.
 */
#include "etcd.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_STREAMS_PER_CONNECTION 100000L
#define UNARY_POLL_MS              2

static void run_jobs(etcd_conn *c)
{
    pthread_mutex_lock(&c->loop_mu);
    etcd_job *j = c->jobs;
    c->jobs = c->jobs_tail = NULL;
    for (etcd_job *k = j; k; k = k->next) k->queued = 0;
    pthread_mutex_unlock(&c->loop_mu);
    while (j) {
        etcd_job *next = j->next; /* run() may queue j again */
        j->next = NULL;
        j->run(c, j);
        j = next;
    }
}

static void reap(etcd_conn *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        etcd_stream *s = NULL;
        CURLcode result = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        if (!s) continue;
        etcd_loop_remove(c, s);
        etcd_stream_finished(s, result);
    }
}

static void *loop_main(void *arg)
{
    etcd_conn *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->loop_mu);
        int stop = c->loop_stop;
        pthread_mutex_unlock(&c->loop_mu);
        if (stop) break;
        run_jobs(c);
        int running = 0;
        curl_multi_perform(c->multi, &running);
        reap(c);
        long wait = etcd_watch_tick(c);
        if (wait < 0 || wait > 1000) wait = 1000;
        /* libcurl 7.88 can leave a call's last frames (its trailers) read
         * but unprocessed, with no timer set, until it runs the transfer for
         * another reason: a call then stalls for the whole poll (measured:
         * paged reads of 2 MB pages waited 1 s each). While calls are in
         * flight, poll briefly so that such a call finishes within
         * UNARY_POLL_MS. Watches alone keep the long wait. */
        if (c->unary_in_multi > 0 && wait > UNARY_POLL_MS) wait = UNARY_POLL_MS;
        /* Jobs queued while we ran the others would be missed by a poll
         * that started after their wakeup was consumed: check first. */
        pthread_mutex_lock(&c->loop_mu);
        int pending = c->jobs != NULL || c->loop_stop;
        c->loop_idle = !pending;
        pthread_mutex_unlock(&c->loop_mu);
        if (!pending) {
            curl_multi_poll(c->multi, NULL, 0, (int)wait, NULL);
            pthread_mutex_lock(&c->loop_mu);
            c->loop_idle = 0;
            pthread_mutex_unlock(&c->loop_mu);
        }
    }
    return NULL;
}

int etcd_loop_start(etcd_conn *c)
{
    c->ep_sockets = calloc(c->n_endpoints, sizeof *c->ep_sockets);
    c->ep_pk_inflight = calloc(c->n_endpoints, sizeof *c->ep_pk_inflight);
    c->multi = c->ep_sockets && c->ep_pk_inflight ? curl_multi_init() : NULL;
    if (!c->multi) return DC_ENOMEM;
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, MAX_STREAMS_PER_CONNECTION);
    if (pthread_create(&c->loop_thread, NULL, loop_main, c) != 0) {
        curl_multi_cleanup(c->multi);
        c->multi = NULL;
        return DC_ENOMEM;
    }
    c->loop_running = 1;
    return DC_OK;
}

void etcd_loop_stop(etcd_conn *c)
{
    if (c->loop_running) {
        pthread_mutex_lock(&c->loop_mu);
        c->loop_stop = 1;
        pthread_mutex_unlock(&c->loop_mu);
        curl_multi_wakeup(c->multi);
        pthread_join(c->loop_thread, NULL);
        c->loop_running = 0;
    }
    if (c->multi) etcd_group_free_all(c);
    if (c->multi) curl_multi_cleanup(c->multi); /* closes the sockets */
    c->multi = NULL;
    free(c->ep_sockets);
    free(c->ep_pk_inflight);
    free(c->sock_ep);
    c->ep_sockets = c->sock_ep = NULL;
    c->n_sock_ep = 0;
}

/* A wakeup is a write to curl's wakeup socket and a read by the loop: a
 * loop that is running will see the job before it polls again (loop_main
 * checks for jobs under loop_mu before it sets loop_idle), so only an idle
 * one is woken. Under many callers this saves two syscalls per call. */
void etcd_loop_post(etcd_conn *c, etcd_job *job)
{
    pthread_mutex_lock(&c->loop_mu);
    int wake = c->loop_idle;
    if (!job->queued) {
        job->queued = 1;
        job->next = NULL;
        if (c->jobs_tail)
            c->jobs_tail->next = job;
        else
            c->jobs = job;
        c->jobs_tail = job;
    }
    pthread_mutex_unlock(&c->loop_mu);
    if (wake) curl_multi_wakeup(c->multi);
}

/* Loop thread (inside curl): a transfer of stream `clientp` opens a socket. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    etcd_stream *s = clientp;
    etcd_conn *c = s->c;
    (void)purpose;
    curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd == CURL_SOCKET_BAD || fd < 0) return CURL_SOCKET_BAD;
    if ((size_t)fd >= c->n_sock_ep) {
        size_t n = (size_t)fd * 2 + 16;
        int *p = realloc(c->sock_ep, n * sizeof *p);
        if (!p) { /* untracked: the endpoint then looks unconnected (safe) */
            return fd;
        }
        for (size_t i = c->n_sock_ep; i < n; i++) p[i] = -1;
        c->sock_ep = p;
        c->n_sock_ep = n;
    }
    c->sock_ep[fd] = (int)s->ep;
    c->ep_sockets[s->ep]++;
    return fd;
}

/* Loop thread, or etcd_loop_stop: a connection's socket closes. */
static int close_socket(void *clientp, curl_socket_t fd)
{
    etcd_conn *c = clientp;
    if (fd >= 0 && (size_t)fd < c->n_sock_ep && c->sock_ep[fd] >= 0) {
        c->ep_sockets[c->sock_ep[fd]]--;
        c->sock_ep[fd] = -1;
    }
    return close(fd);
}

void etcd_loop_track_sockets(etcd_conn *c, etcd_stream *s)
{
    curl_easy_setopt(s->easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(s->easy, CURLOPT_OPENSOCKETDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
    curl_easy_setopt(s->easy, CURLOPT_CLOSESOCKETDATA, c);
}

int etcd_loop_add(etcd_conn *c, etcd_stream *s)
{
    if (!c->tls) {
        s->prior_knowledge =
            s->force_pk || (c->ep_sockets[s->ep] <= 0 && c->ep_pk_inflight[s->ep] <= 0);
        s->force_pk = 0;
        if (s->prior_knowledge) c->ep_pk_inflight[s->ep]++;
        curl_easy_setopt(s->easy, CURLOPT_HTTP_VERSION,
                         s->prior_knowledge ? (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                                            : (long)CURL_HTTP_VERSION_2_0);
    }
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, (char *)s);
    CURLMcode mc = curl_multi_add_handle(c->multi, s->easy);
    if (mc != CURLM_OK) {
        if (s->prior_knowledge && !c->tls) c->ep_pk_inflight[s->ep]--;
        s->prior_knowledge = 0;
        return -1;
    }
    s->in_multi = 1;
    if (!s->on_end) c->unary_in_multi++;
    return 0;
}

void etcd_loop_remove(etcd_conn *c, etcd_stream *s)
{
    if (!s->in_multi) return;
    curl_multi_remove_handle(c->multi, s->easy);
    s->in_multi = 0;
    if (!s->on_end) c->unary_in_multi--;
    if (s->prior_knowledge && !c->tls) c->ep_pk_inflight[s->ep]--;
}
