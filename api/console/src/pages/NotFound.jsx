import { Page } from '../components.jsx';
import { BASE, Link } from '../router.jsx';

export function NotFound({ what = 'page' }) {
  return (
    <Page title="Not found">
      <p>
        There is no such {what} in this workspace. <Link href={`${BASE}/`}>Back to the runs</Link>.
      </p>
    </Page>
  );
}
