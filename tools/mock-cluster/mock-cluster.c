/*
 * A librdkafka mock cluster for ngx_evbus fault tests: brokers on
 * 127.0.0.1 that produce errors on demand, which a real broker cannot.
 *
 *     mock-cluster [brokers] [topic partitions]...
 *
 * Prints "bootstraps <list>" once ready, then reads commands on stdin:
 *
 *     produce-errors <err> [<err>...]   the next Produce requests fail with
 *                                       these Kafka error codes, in order
 *     rtt <broker> <ms>                 delay a broker's responses
 *     down <broker> / up <broker>       take a broker down or up
 *     quit                              (or end of input) exit
 *
 * and answers "ok" or "error ..." per command.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>


#define MOCK_ERRS_MAX  64


int
main(int argc, char **argv)
{
    int                       i, n, brokers, broker, ms;
    char                      line[1024], errstr[512], *p, *tok;
    rd_kafka_t               *rk;
    rd_kafka_conf_t          *conf;
    rd_kafka_resp_err_t       errs[MOCK_ERRS_MAX];
    rd_kafka_mock_cluster_t  *mc;

    signal(SIGPIPE, SIG_IGN);

    brokers = argc > 1 ? atoi(argv[1]) : 1;
    if (brokers < 1) {
        brokers = 1;
    }

    conf = rd_kafka_conf_new();

    /* this handle only hosts the mock cluster: no "no bootstrap.servers" */
    (void) rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "rd_kafka_new() failed: %s\n", errstr);
        return 1;
    }

    mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (mc == NULL) {
        fprintf(stderr, "rd_kafka_mock_cluster_new() failed\n");
        return 1;
    }

    for (i = 2; i + 1 < argc; i += 2) {
        if (rd_kafka_mock_topic_create(mc, argv[i], atoi(argv[i + 1]), 1)
            != RD_KAFKA_RESP_ERR_NO_ERROR)
        {
            fprintf(stderr, "cannot create topic %s\n", argv[i]);
            return 1;
        }
    }

    printf("bootstraps %s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    while (fgets(line, sizeof(line), stdin)) {
        p = line;
        tok = strtok(p, " \t\r\n");

        if (tok == NULL) {
            continue;
        }

        if (strcmp(tok, "quit") == 0) {
            break;
        }

        if (strcmp(tok, "produce-errors") == 0) {
            n = 0;
            while (n < MOCK_ERRS_MAX && (tok = strtok(NULL, " \t\r\n"))) {
                errs[n++] = (rd_kafka_resp_err_t) atoi(tok);
            }

            rd_kafka_mock_push_request_errors_array(mc, 0 /* Produce */,
                                                    (size_t) n, errs);
            printf("ok\n");

        } else if (strcmp(tok, "rtt") == 0 || strcmp(tok, "down") == 0
                   || strcmp(tok, "up") == 0)
        {
            p = strtok(NULL, " \t\r\n");
            broker = p ? atoi(p) : 1;

            if (tok[0] == 'r') {
                p = strtok(NULL, " \t\r\n");
                ms = p ? atoi(p) : 0;
                rd_kafka_mock_broker_set_rtt(mc, broker, ms);

            } else if (tok[0] == 'd') {
                rd_kafka_mock_broker_set_down(mc, broker);

            } else {
                rd_kafka_mock_broker_set_up(mc, broker);
            }

            printf("ok\n");

        } else {
            printf("error unknown command \"%s\"\n", tok);
        }

        fflush(stdout);
    }

    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);

    return 0;
}
