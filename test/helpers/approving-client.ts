import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';

/**
 * A real SDK client whose user answers intentguard's approval prompts (elicitations): `answer` says
 * how the next prompt is answered, `asked` collects the prompts' messages.
 */
export function approvingClient(name: string) {
  const user = { answer: 'accept' as 'accept' | 'decline', asked: [] as string[] };
  const client = new Client({ name, version: '1' }, { capabilities: { elicitation: {} } });
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    user.asked.push(req.params.message);
    return (
      user.answer === 'accept'
        ? { action: 'accept', content: { approve: true, scope: 'once' } }
        : { action: 'decline' }
    ) as never;
  });
  return { client, user };
}
