// Finding 2 of issue 12: tools were classified by the first word of their name, so `read_and_delete`
// read; descriptions and annotations never reached the classifier; a no-op tool whose description says
// it changes nothing was a side effect; a hand-off to a person was financial egress.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { profileTool } from '../../src/analyze/categories.js';
import { guardedSession, type Guarded } from './support/guarded.js';

describe('finding 2: classification from every verb of the name (the most dangerous wins)', () => {
  const compound = [
    'read_and_delete',
    'list_and_remove_users',
    'view_then_transfer_funds',
    'fetch_and_post',
    'getThenDeleteRecords',
    'search-and-destroy',
    'show_or_update_settings',
    'lookupAndSendReport',
    'ReadFileAndUpload',
    'peek_then_wipe_disk',
  ];
  for (const name of compound) {
    it(`${name} is a side effect`, () =>
      assert.equal(profileTool(name).sideEffecting, true, JSON.stringify(profileTool(name))));
  }
  it('names under a namespace are read from their verb, not their first word', () => {
    assert.equal(profileTool('TodoistSearchTasks').readOnly, true);
    assert.equal(profileTool('SmartLockCheckLockStatus').readOnly, true);
    assert.equal(profileTool('SmartLockLockDoor').sideEffecting, true);
    assert.equal(profileTool('AcmeCrmDeleteCustomer').categories.includes('destructive'), true);
    assert.equal(profileTool('ChatAppGetMessage').readOnly, true, 'a noun after a read verb is what is read');
    assert.ok(profileTool('ChatAppPostMessage').categories.includes('egress'));
    assert.ok(profileTool('BankTransferFunds').categories.includes('financial'));
  });
  it('a read annotation does not make a dangerous name read-only; a destructive annotation wins over a read name', () => {
    assert.equal(profileTool('send_email', { readOnlyHint: true }).sideEffecting, true);
    assert.equal(profileTool('read_and_delete', { readOnlyHint: true }).sideEffecting, true);
    assert.ok(profileTool('get_thing', { destructiveHint: true }).categories.includes('destructive'));
    assert.equal(
      profileTool('get_thing', { readOnlyHint: false, idempotentHint: true }).sideEffecting,
      true,
      'an explicit readOnlyHint: false is believed',
    );
  });
  it('descriptions count: their lead verbs, and a claim that nothing changes', () => {
    assert.equal(profileTool('frobnicate').sideEffecting, true, 'nothing known: cautious');
    assert.equal(
      profileTool('frobnicate', undefined, 'Does nothing and changes nothing; for testing.').sideEffecting,
      false,
    );
    assert.equal(
      profileTool(
        'think',
        undefined,
        'Use the tool to think. It will not obtain new information or change the database.',
      ).sideEffecting,
      false,
    );
    assert.equal(profileTool('weather', undefined, 'Returns the forecast for a city.').sideEffecting, false);
    assert.equal(
      profileTool('tidy', undefined, 'Deletes every file older than a week.').categories.includes(
        'destructive',
      ),
      true,
    );
    assert.equal(
      profileTool('get_report', undefined, 'Reads the report and emails it to the team.').sideEffecting,
      true,
      "the description's second verb sends",
    );
    assert.equal(
      profileTool('delete_cache', undefined, 'Does not modify any user data.').sideEffecting,
      true,
      'a claim does not outweigh the verb',
    );
  });
  it('a hand-off to a person is not financial egress, nor a side effect', () => {
    const p = profileTool(
      'transfer_to_human_agents',
      undefined,
      "Transfer the user to a human agent, with a summary of the user's issue.",
    );
    assert.equal(p.categories.includes('financial'), false);
    assert.equal(p.categories.includes('egress'), false);
    assert.equal(p.sideEffecting, false);
    assert.equal(profileTool('escalate_to_support').sideEffecting, false);
    assert.ok(
      profileTool('transfer_funds_to_agent').categories.includes('financial'),
      'money to a person is still a payment',
    );
  });
  it('anything that publishes or writes where others read is egress', () => {
    for (const n of [
      'create_issue',
      'create_gist',
      'update_wiki_page',
      'post_comment',
      'publish_page',
      'leave_review',
      'add_blog_post',
    ]) {
      assert.ok(profileTool(n).categories.includes('egress'), n);
    }
    assert.equal(profileTool('update_todo_item').categories.includes('egress'), false);
  });
});

describe('finding 2: tools/list descriptions and annotations reach the classifier (real SDK session)', () => {
  let g: Guarded;
  after(() => g?.close());
  it('a described no-op outside the approval only alerts; an unnamed-verb tool and a compound delete are held', async () => {
    g = await guardedSession(
      [
        { name: 'frobnicate', description: 'A no-op: does nothing and changes nothing.' },
        { name: 'frobnicate_harder' },
        { name: 'read_and_delete', description: 'Reads a file.' },
        { name: 'lookup_widget', annotations: { destructiveHint: true } },
        {
          name: 'transfer_to_human_agents',
          description: 'Transfer the user to a human agent, with a summary of the issue.',
        },
        { name: 'read_notes' },
      ],
      { purpose: 'summarise my notes', tools: ['read_notes'] },
    );
    assert.equal((await g.call('frobnicate')).action, 'alert');
    assert.equal(
      (await g.call('transfer_to_human_agents', { summary: 'customer asks for a refund' })).action,
      'alert',
    );
    const cautious = await g.call('frobnicate_harder');
    assert.equal(cautious.action, 'reauthorize', JSON.stringify(cautious));
    const compound = await g.call('read_and_delete', { path: 'notes.md' });
    assert.ok(
      compound.rules.includes('IG-DST-001') && compound.rules.includes('IG-INT-001'),
      JSON.stringify(compound),
    );
    assert.ok((await g.call('lookup_widget')).rules.includes('IG-DST-001'));
  });
});
