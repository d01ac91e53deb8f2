#!/usr/bin/perl

# Schemas over HTTP: every supported keyword passing and failing, version
# selection (event_version, latest, evbus_schema_default_version), unknown
# types rejected or accepted; what reaches Kafka is exactly the valid
# events, stamped with the version they were validated against.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use Evbus;

my $t = Evbus->new('schemas')->need_kafka;
my $dir = $t->dir;

sub schema {
    my ($root, $type, $version, $json) = @_;
    make_path("$root/$type");
    open my $fh, '>', "$root/$type/$version.json" or die "$!";
    print $fh $json;
    close $fh;
}

# one property per keyword
schema("$dir/s", 'kw', 1, <<'END');
{
    "type": "object",
    "required": ["event_type", "req"],
    "properties": {
        "type_n":   { "type": "number" },
        "type_i":   { "type": "integer" },
        "type_sn":  { "type": ["string", "null"] },
        "type_b":   { "type": "boolean" },
        "type_o":   { "type": "object" },
        "type_a":   { "type": "array" },
        "enum":     { "enum": ["EUR", "USD", 1] },
        "const":    { "const": "x" },
        "min":      { "minimum": 0 },
        "max":      { "maximum": 10 },
        "xmin":     { "exclusiveMinimum": 0 },
        "xmax":     { "exclusiveMaximum": 10 },
        "minlen":   { "minLength": 2 },
        "maxlen":   { "maxLength": 3 },
        "pattern":  { "pattern": "^[A-Z]{3}$" },
        "pattern_re": { "pattern": "^(EUR|USD)$" },
        "pattern_slow": { "pattern": "^(a+)+$" },
        "dt":       { "format": "date-time" },
        "uuid":     { "format": "uuid" },
        "email":    { "format": "email" },
        "items":    { "items": { "type": "integer" } },
        "minitems": { "minItems": 1 },
        "maxitems": { "maxItems": 2 },
        "nested":   { "type": "object", "required": ["id"],
                      "additionalProperties": false,
                      "properties": { "id": { "type": "string" },
                                      "deep": { "properties": { "d": {
                                          "type": "integer" } } } } },
        "req":      {}
    }
}
END

my @cases = (
    [ '"type_n":1.5', undef ],
    [ '"type_n":"1.5"', '/type_n: expected number, got string' ],
    [ '"type_i":7', undef ],
    [ '"type_i":7.5', '/type_i: expected integer, got number' ],
    [ '"type_sn":null', undef ],
    [ '"type_sn":1', '/type_sn: expected null or string, got number' ],
    [ '"type_b":true', undef ],
    [ '"type_b":"true"', '/type_b: expected boolean, got string' ],
    [ '"type_o":{}', undef ],
    [ '"type_o":[]', '/type_o: expected object, got array' ],
    [ '"type_a":[]', undef ],
    [ '"type_a":{}', '/type_a: expected array, got object' ],
    [ '"enum":"USD"', undef ],
    [ '"enum":"GBP"', '/enum: expected one of "EUR", "USD", 1, got "GBP"' ],
    [ '"const":"x"', undef ],
    [ '"const":"y"', '/const: expected "x", got "y"' ],
    [ '"min":0', undef ],
    [ '"min":-1', '/min: expected >= 0, got -1' ],
    [ '"max":10', undef ],
    [ '"max":10.5', '/max: expected <= 10, got 10.5' ],
    [ '"xmin":0.1', undef ],
    [ '"xmin":0', '/xmin: expected > 0, got 0' ],
    [ '"xmax":9.9', undef ],
    [ '"xmax":10', '/xmax: expected < 10, got 10' ],
    [ qq{"minlen":"\xc3\xa9\xc3\xa9"}, undef ],
    [ qq{"minlen":"\xc3\xa9"},
      '/minlen: expected at least 2 characters, got 1' ],
    [ qq{"maxlen":"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"}, undef ],
    [ '"maxlen":"abcd"', '/maxlen: expected at most 3 characters, got 4' ],
    [ '"pattern":"EUR"', undef ],
    [ '"pattern":"eur"',
      '/pattern: expected a match for "^[A-Z]{3}$", got "eur"' ],
    # ECMA-262: "$" only at the end (the built-in matcher, then PCRE2)
    [ '"pattern":"EUR\\n"',
      '/pattern: expected a match for "^[A-Z]{3}$", got "EUR?"' ],
    [ '"pattern_re":"USD"', undef ],
    [ '"pattern_re":"EUR\\n"',
      '/pattern_re: expected a match for "^(EUR|USD)$", got "EUR?"' ],
    # PCRE2 giving up (the match limit) is not a mismatch
    [ '"pattern_slow":"' . ('a' x 40) . 'b"',
      '/pattern_slow: pattern "^(a+)+$" could not be evaluated' ],
    [ '"dt":"2026-11-26T17:00:00.123Z"', undef ],
    [ '"dt":"2026-13-01T00:00:00Z"',
      '/dt: expected date-time, got "2026-13-01T00:00:00Z"' ],
    [ '"uuid":"0192f0c1-7e1a-7c3b-9d2e-4f5a6b7c8d9e"', undef ],
    [ '"uuid":"not-a-uuid"', '/uuid: expected uuid, got "not-a-uuid"' ],
    [ '"email":"a.b@example.com"', undef ],
    [ '"email":"a@@example.com"',
      '/email: expected email, got "a@@example.com"' ],
    [ '"items":[1,2,3]', undef ],
    [ '"items":[1,"2"]', '/items/1: expected integer, got string' ],
    [ '"minitems":[0]', undef ],
    [ '"minitems":[]', '/minitems: expected at least 1 items, got 0' ],
    [ '"maxitems":[1,2]', undef ],
    [ '"maxitems":[1,2,3]', '/maxitems: expected at most 2 items, got 3' ],
    [ '"nested":{"id":"a","deep":{"d":1}}', undef ],
    [ '"nested":{"id":"a","deep":{"d":"1"}}',
      '/nested/deep/d: expected integer, got string' ],
    [ '"nested":{}', '/nested/id: expected a required property, got none' ],
    [ '"nested":{"id":"a","extra":1}',
      '/nested/extra: expected no undeclared property, got one' ],
);

schema("$dir/s", 'p', 1,
    '{"required":["amount"],"properties":{"amount":{"type":"number"}}}');
schema("$dir/s", 'p', 2,
    '{"required":["total"],"properties":{"total":{"type":"integer"}}}');
schema("$dir/s", 'p', 10,
    '{"required":["cents"],"properties":{"cents":{"type":"integer"}}}');

my $topic = $t->topic;
my $topic2 = $t->topic('accept');

$t->start_ok(http => ["evbus_topic $topic;", "evbus_schemas $dir/s;"],
    locations => <<"END");
location = /e { evbus; }
location = /d { evbus; evbus_schema_default_version 2; }
location = /a { evbus; evbus_unknown_types accept; evbus_topic $topic2; }
location = /off { evbus; evbus_schemas off; evbus_topic $topic2; }
END

# keywords: one batch, each case its own event

my @events;
for my $i (0 .. $#cases) {
    push @events,
        qq{{"event_type":"kw","event_id":"kw-$i",$cases[$i][0],"req":1}};
}
push @events, qq{{"event_type":"kw","event_id":"kw-noreq"}};

my ($st, $h, $j) = $t->post('/e', '[' . join(',', @events) . ']');
is($st, 202, 'keyword batch: 202');

my %err = map { $_->{index} => $_->{error} } @{ $j->{errors} || [] };
my %want_ok;
for my $i (0 .. $#cases) {
    my $want = $cases[$i][1];
    my $got = $err{$i};
    if (defined $want) {
        is($got, $want, "keyword case $i fails: $cases[$i][0]");
    } else {
        ok(!defined $got, "keyword case $i passes: $cases[$i][0]")
            or diag($got);
        $want_ok{"kw-$i"} = 1;
    }
}
is($err{ scalar @cases }, '/req: expected a required property, got none',
    'required: a missing member');

my $msgs = $t->kafka_read($topic, scalar keys %want_ok);
my %got = map { ($_->{key} // '') => 1 } @$msgs;
is_deeply(\%got, \%want_ok, 'Kafka holds exactly the valid keyword events');

# versions

($st, $h, $j) = $t->post('/e', '[' . join(',',
    '{"event_type":"p","event_id":"v-1","event_version":1,"amount":1.5}',
    '{"event_id":"v-2","amount":2,"event_version":2,"event_type":"p",'
        . '"total":3}',
    '{"event_type":"p","event_id":"v-latest","cents":5}',
    '{"event_type":"p","event_id":"v-latest-bad","total":5}',
    '{"event_type":"p","event_id":"v-9","event_version":9}') . ']');
is($st, 202, 'versions: 202');
%err = map { $_->{index} => $_->{error} } @{ $j->{errors} || [] };
is_deeply(\%err, {
    3 => '/cents: expected a required property, got none',
    4 => 'no schema for event_type "p" version 9',
}, 'versions: the event_version picks, else the latest');

($st, $h, $j) = $t->post('/d',
    '[{"event_type":"p","event_id":"d-2","total":3},'
    . '{"event_type":"p","event_id":"d-bad","cents":3}]');
%err = map { $_->{index} => $_->{error} } @{ $j->{errors} || [] };
is_deeply(\%err, { 1 => '/total: expected a required property, got none' },
    'evbus_schema_default_version 2');

my %ver = ('v-1' => 1, 'v-2' => 2, 'v-latest' => 10, 'd-2' => 2);
$msgs = $t->kafka_read($topic, keys(%want_ok) + keys(%ver));
for my $id (sort keys %ver) {
    my ($m) = grep { ($_->{key} // '') eq $id } @$msgs;
    ok($m, "$id reached Kafka") or next;
    is($m->{value}{metadata}{event_version}, $ver{$id},
        "$id: metadata.event_version $ver{$id}");
    is($m->{headers}{event_version}, $ver{$id},
        "$id: event_version header $ver{$id}");
}
ok(!grep({ ($_->{key} // '') =~ /^(v-latest-bad|v-9|d-bad)$/ } @$msgs),
    'no rejected version event reached Kafka');

# unknown types

($st, $h, $j) = $t->post('/e', '{"event_type":"mystery","event_id":"u-1"}');
is($st, 400, 'unknown type rejected by default: 400');
is($j->{errors}[0]{error}, 'no schema for event_type "mystery"',
    'unknown type: the reason');

($st, $h, $j) = $t->post('/a', '[{"event_type":"mystery","event_id":"u-2"},'
    . '{"event_type":"p","event_id":"u-3","event_version":1,"amount":"x"}]');
is($st, 202, 'evbus_unknown_types accept: 202');
is_deeply([map { $_->{index} } @{ $j->{errors} }], [1],
    'accept: unknown types pass, known ones are still validated');

($st, $h, $j) = $t->post('/off', '{"event_type":"p","event_id":"u-4","x":1}');
is($st, 202, 'evbus_schemas off: no validation');

$msgs = $t->kafka_read($topic2, 2);
is_deeply([sort map { $_->{key} } @$msgs], ['u-2', 'u-4'],
    'Kafka: the accepted unknown type and the unvalidated event');

$t->done;
