/*
 * proxysync business rule: posts each insert or update of a record to proxysync.
 *
 * Table: the table a connection syncs (incident by default). When: after.
 * Insert and Update: checked. Advanced: checked, with this script.
 *
 * System properties (System Properties > All properties, type string):
 *   x_proxysync.endpoint        https://<api>/webhooks/servicenow/<instance id>
 *   x_proxysync.webhook_secret  the webhook_secret of the instance's secret in proxysync
 *   x_proxysync.proxy_user      the proxy user's user name; its own changes are not posted
 *   x_proxysync.send_work_notes "true" to post work notes too (default: comments only,
 *                               because work notes are internal)
 *
 * The body is JSON with the record's table, sys_id, number, operation, sys_mod_count,
 * sys_updated_on (UTC), changed_fields, the synced fields in "record", the new journal
 * entry in "journal" (or null) and the acting user in "actor". The header
 * X-Proxysync-Signature carries "sha256=" and the base64 HMAC-SHA256 of the exact body,
 * keyed with the webhook secret.
 */
(function executeRule(current, previous) {
    var endpoint = gs.getProperty('x_proxysync.endpoint', '');
    var secret = gs.getProperty('x_proxysync.webhook_secret', '');
    if (!endpoint || !secret) {
        gs.error('proxysync: set the properties x_proxysync.endpoint and x_proxysync.webhook_secret');
        return;
    }
    // The proxy user's own writes would be dropped by proxysync anyway: do not send them.
    var proxyUser = gs.getProperty('x_proxysync.proxy_user', '');
    if (proxyUser && gs.getUserName() == proxyUser) {
        return;
    }
    var sendWorkNotes = gs.getProperty('x_proxysync.send_work_notes', 'false') == 'true';
    var inserted = current.operation() == 'insert';

    var synced = ['short_description', 'description', 'state', 'active'];
    var changed = [];
    var record = {};
    for (var i = 0; i < synced.length; i++) {
        var name = synced[i];
        record[name] = current.getValue(name) || '';
        if (inserted || current[name].changes()) {
            changed.push(name);
        }
    }

    var journal = null;
    if (current.comments.changes()) {
        journal = newestEntry('comments');
    } else if (sendWorkNotes && current.work_notes.changes()) {
        journal = newestEntry('work_notes');
    }
    if (journal) {
        changed.push(journal.element);
    }

    var body = JSON.stringify({
        table: current.getTableName(),
        sys_id: current.getUniqueValue(),
        number: current.getValue('number') || '',
        operation: inserted ? 'insert' : 'update',
        sys_mod_count: current.getValue('sys_mod_count'),
        // getValue returns the stored UTC time, yyyy-MM-dd HH:mm:ss.
        sys_updated_on: current.getValue('sys_updated_on'),
        changed_fields: changed,
        record: record,
        journal: journal,
        actor: { sys_id: gs.getUserID(), user_name: gs.getUserName() },
        instance_url: gs.getProperty('glide.servlet.uri')
    });

    // generateMac expects the key in base64 and returns the MAC in base64.
    var key = GlideStringUtil.base64Encode(secret);
    var mac = new GlideCertificateEncryption().generateMac(key, 'HmacSHA256', body);

    var request = new sn_ws.RESTMessageV2();
    request.setEndpoint(endpoint);
    request.setHttpMethod('post');
    request.setRequestHeader('Content-Type', 'application/json');
    request.setRequestHeader('X-Proxysync-Signature', 'sha256=' + mac);
    request.setRequestBody(body);
    request.setHttpTimeout(10000);
    // Sent through the ECC queue, so a slow proxysync never delays the user's save.
    request.executeAsync();

    // Returns the journal entry this update added, with the id of its sys_journal_field row.
    function newestEntry(element) {
        var text = current[element].getJournalEntry(1) || '';
        // getJournalEntry starts with a "date - user (field)" line before the text.
        var start = text.indexOf('\n');
        var value = (start >= 0 ? text.substring(start + 1) : text).replace(/\s+$/, '');
        var row = new GlideRecord('sys_journal_field');
        row.addQuery('element_id', current.getUniqueValue());
        row.addQuery('element', element);
        row.orderByDesc('sys_created_on');
        row.setLimit(1);
        row.query();
        var sysId = row.next() ? row.getUniqueValue() : null;
        return { element: element, value: value, sys_id: sysId };
    }
})(current, previous);
