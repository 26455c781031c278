export { importReferenceCommand } from './import/command.js';
