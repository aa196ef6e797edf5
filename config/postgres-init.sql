-- The portal has its own database: it never reads the idp's (DESIGN §2).
CREATE DATABASE portal OWNER espace;
