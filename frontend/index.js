export async function render() { document.body.textContent = 'Embedding Analysis'; }
